#!/bin/bash
# Start the Hive metastore on the database named by the environment:
#   METASTORE_DB_URL       jdbc:postgresql://host:5432/metastore (default: embedded Derby
#                          under /tmp, for a quick look only)
#   METASTORE_DB_USER      database user
#   METASTORE_DB_PASSWORD_FILE  a file holding the database password (a Secret's volume;
#                          written to hive-site.xml in METASTORE_CONF_DIR, never on a command
#                          line or in the environment of the JVM)
#   METASTORE_DB_PASSWORD  the password itself, when no file is given
#   METASTORE_WAREHOUSE    default warehouse location (file:///lake/warehouse, gs://...)
#   METASTORE_PORT, METASTORE_HEAP, METASTORE_CONF_DIR, JAVA_OPTS
# The schema is created on first start (DataNucleus autoCreateAll, as the local stack
# does); Spark's Hive 2.3 client and Iceberg's HiveCatalog talk to it over thrift.
set -euo pipefail

if [[ -n "${METASTORE_DB_PASSWORD_FILE:-}" ]]; then
  db_password=$(<"$METASTORE_DB_PASSWORD_FILE")
else
  db_password=${METASTORE_DB_PASSWORD:-}
fi
unset METASTORE_DB_PASSWORD
db_url=${METASTORE_DB_URL:-jdbc:derby:;databaseName=/tmp/metastore_db;create=true}
case "$db_url" in
  jdbc:postgresql:*) driver=org.postgresql.Driver ;;
  jdbc:derby:*) driver=org.apache.derby.jdbc.EmbeddedDriver ;;
  *) echo "METASTORE_DB_URL must be a jdbc:postgresql: or jdbc:derby: URL" >&2; exit 2 ;;
esac

xml_escape() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g' <<<"$1"; }
property() { printf '  <property><name>%s</name><value>%s</value></property>\n' "$1" "$(xml_escape "$2")"; }

mkdir -p "$METASTORE_CONF_DIR"
umask 077
{
  echo '<?xml version="1.0"?>'
  echo '<configuration>'
  property javax.jdo.option.ConnectionURL "$db_url"
  property javax.jdo.option.ConnectionDriverName "$driver"
  property javax.jdo.option.ConnectionUserName "${METASTORE_DB_USER:-APP}"
  property javax.jdo.option.ConnectionPassword "$db_password"
  property datanucleus.schema.autoCreateAll true
  property datanucleus.connectionPoolingType dbcp
  property hive.metastore.schema.verification false
  property hive.metastore.warehouse.dir "${METASTORE_WAREHOUSE:-file:///tmp/warehouse}"
  property hive.metastore.event.db.notification.api.auth false
  property hive.async.log.enabled false
  echo '</configuration>'
} > "$METASTORE_CONF_DIR/hive-site.xml"

echo "hive-metastore: thrift port $METASTORE_PORT, database ${db_url%%\?*}, warehouse ${METASTORE_WAREHOUSE:-file:///tmp/warehouse}"
# shellcheck disable=SC2086  # JAVA_OPTS is a list of options
exec java -Xms"$METASTORE_HEAP" -Xmx"$METASTORE_HEAP" -Djava.awt.headless=true \
  -Dderby.stream.error.file=/tmp/derby.log ${JAVA_OPTS:-} \
  -cp "$METASTORE_CONF_DIR:/opt/hive-metastore/conf:/opt/hive-metastore/lib/*" \
  org.apache.hadoop.hive.metastore.HiveMetaStore -p "$METASTORE_PORT"
