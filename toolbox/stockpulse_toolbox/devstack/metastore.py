"""A local Hive metastore service (thrift) over embedded Derby, from the Hive 2.3 jars pyspark ships.

The same thrift interface as production's metastore service, so Spark, the ingest job
and non-Spark readers (pyiceberg) all reach the catalog the same way; Derby's files
live under ``<run>/metastore``. Schema tables are created on first start.
"""

from __future__ import annotations

import os
import shutil
from importlib import resources
from pathlib import Path

from stockpulse.settings import Settings

from .process import ManagedProcess, port_open, wait_until

#: The metastore's logging (stdout); the image copies the same file.
LOGGING_CONF = "hive-log4j2.properties"


def pyspark_jars() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "jars"


class LocalMetastore:
    def __init__(self, settings: Settings, name: str = "metastore", heap: str = "512m") -> None:
        self.settings = settings
        self.home = settings.run_dir / name
        self.port = settings.local.metastore_port
        self.heap = heap
        self.process = ManagedProcess(name, settings.run_dir)

    @property
    def uri(self) -> str:
        return f"thrift://127.0.0.1:{self.port}"

    @property
    def conf_dir(self) -> Path:
        """First on the classpath: ``hive-log4j2.properties`` (logs to stdout, as in the image)."""
        return self.home / "conf"

    def argv(self) -> list[str]:
        java = shutil.which("java", path=os.path.join(os.environ.get("JAVA_HOME", ""), "bin")) or "java"
        db = self.home / "derby"
        hiveconf = {
            "javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={db};create=true",
            "javax.jdo.option.ConnectionDriverName": "org.apache.derby.jdbc.EmbeddedDriver",
            "datanucleus.schema.autoCreateAll": "true",
            "datanucleus.connectionPoolingType": "dbcp",
            "hive.metastore.schema.verification": "false",
            "hive.metastore.warehouse.dir": self.settings.warehouse_uri,
            "hive.metastore.event.db.notification.api.auth": "false",
            "hive.async.log.enabled": "false",
            "hive.metastore.bind.host": "127.0.0.1",
        }
        args = [
            java,
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-Djava.awt.headless=true",
            f"-Dderby.stream.error.file={self.settings.run_dir / 'logs' / 'derby.log'}",
            "-cp",
            f"{self.conf_dir}:{pyspark_jars()}/*",
            "org.apache.hadoop.hive.metastore.HiveMetaStore",
            "-p",
            str(self.port),
        ]
        for key, value in hiveconf.items():
            args += ["--hiveconf", f"{key}={value}"]
        return args

    def start(self, timeout: float = 180.0) -> None:
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        logging_conf = resources.files(__package__).joinpath(LOGGING_CONF).read_text()
        (self.conf_dir / LOGGING_CONF).write_text(logging_conf)
        self.process.start(self.argv(), cwd=self.home)
        wait_until(lambda: port_open("127.0.0.1", self.port), timeout, "metastore", alive=self.process.running)

    def stop(self, timeout: float = 30.0) -> bool:
        return self.process.stop(timeout)

    def running(self) -> bool:
        return self.process.running()
