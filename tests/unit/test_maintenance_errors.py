"""A failed maintenance step is reported by what the JVM said, not by Py4J's "An error occurred while calling"."""

from __future__ import annotations

from stockpulse.lake.maintenance import failure_reason

PY4J_FIRST_LINE = "An error occurred while calling o68.sql."


class JavaException:
    def __init__(self, text: str) -> None:
        self.text = text

    def toString(self) -> str:
        return self.text


class Py4JLikeError(Exception):
    def __init__(self, message: str, java: JavaException | None) -> None:
        super().__init__(message)
        self.java_exception = java


def test_the_java_exception_names_the_failure():
    exc = Py4JLikeError(
        f"{PY4J_FIRST_LINE}\n: org.apache.iceberg.exceptions.ValidationException: ...\n\tat x",
        JavaException("org.apache.iceberg.exceptions.ValidationException: Manifest is missing: m1.avro"),
    )
    assert failure_reason(exc) == "org.apache.iceberg.exceptions.ValidationException: Manifest is missing: m1.avro"


def test_without_the_gateway_the_message_after_py4js_line_is_used():
    class Gone(JavaException):
        def toString(self) -> str:
            raise ConnectionError("gateway closed")

    exc = Py4JLikeError(f"{PY4J_FIRST_LINE}\n: org.apache.X: the table is locked\n\tat y", Gone(""))
    assert failure_reason(exc) == "org.apache.X: the table is locked"


def test_a_python_error_is_its_message_cut_to_500_characters():
    assert failure_reason(ValueError("no such table")) == "no such table"
    assert failure_reason(ValueError("x" * 600)) == "x" * 500
