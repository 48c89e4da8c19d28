"""Small files beside the streaming checkpoint, through Hadoop's FileSystem API in Spark's JVM.

The checkpoint may live on any Hadoop URI (``file:``, ``gs://``, ``hdfs://``), so the
driver lease and the routing rules kept with it are read and written through the same
filesystem client Spark uses for the checkpoint itself, never through Python's ``open``.
"""

from __future__ import annotations

from pyspark.sql import SparkSession


class HadoopFolder:
    """One folder on a Hadoop filesystem: list, read, write and delete small text files in it."""

    def __init__(self, spark: SparkSession, uri: str) -> None:
        self._jvm = spark.sparkContext._jvm
        self._Path = self._jvm.org.apache.hadoop.fs.Path
        self.root = self._Path(uri)
        self.uri = uri
        self.fs = self.root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())

    def child(self, name: str) -> HadoopFolder:
        sub = object.__new__(HadoopFolder)
        sub._jvm, sub._Path, sub.fs = self._jvm, self._Path, self.fs
        sub.root = self._Path(self.root, name)
        sub.uri = f"{self.uri.rstrip('/')}/{name}"
        return sub

    def path(self, name: str):
        return self._Path(self.root, name)

    def exists(self, name: str) -> bool:
        return bool(self.fs.exists(self.path(name)))

    def names(self) -> list[str]:
        if not self.fs.exists(self.root):
            return []
        return sorted(str(status.getPath().getName()) for status in self.fs.listStatus(self.root))

    def read(self, name: str) -> str | None:
        """The file's text, or None when it does not exist."""
        path = self.path(name)
        if not self.fs.exists(path):
            return None
        stream = self.fs.open(path)
        try:
            data = self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream)
        finally:
            stream.close()
        return bytes(data).decode("utf-8")

    def write(self, name: str, text: str, overwrite: bool) -> bool:
        """Write ``text``; with ``overwrite=False`` only if the file is absent (False when it existed)."""
        path = self.path(name)
        try:
            stream = self.fs.create(path, overwrite)
        except Exception as exc:  # py4j wraps FileAlreadyExistsException
            if "FileAlreadyExists" in str(exc) or "already exists" in str(exc):
                return False
            raise
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()
        return True

    def delete(self, name: str) -> bool:
        path = self.path(name)
        return bool(self.fs.exists(path) and self.fs.delete(path, False))
