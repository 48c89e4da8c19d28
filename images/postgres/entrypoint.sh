#!/bin/bash
# Initialise PGDATA on first start, then run postgres in the foreground.
#   POSTGRES_USER, POSTGRES_DB   the owner and database created on first start
#   POSTGRES_PASSWORD_FILE       a file holding its password (a Secret's volume; handed to
#                                initdb through a file, never on a command line, and never in
#                                the environment of the container's processes)
#   POSTGRES_PASSWORD            the password itself, when no file is given (a quick look only)
#   POSTGRES_EXTRA_DBS           more databases of that owner, space-separated, created on any
#                                start where they are missing (an existing volume gets them too)
set -euo pipefail
: "${POSTGRES_USER:?POSTGRES_USER is required}"
: "${POSTGRES_DB:?POSTGRES_DB is required}"
if [[ -n "${POSTGRES_PASSWORD_FILE:-}" ]]; then
  POSTGRES_PASSWORD=$(<"$POSTGRES_PASSWORD_FILE")  # a shell variable: not exported to postgres
fi
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD) is required}"

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  echo "postgres: initialising $PGDATA for user $POSTGRES_USER, database $POSTGRES_DB"
  mkdir -p "$PGDATA" && chmod 700 "$PGDATA"
  pwfile=$(mktemp)
  printf '%s' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 --encoding=UTF8 --no-instructions >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  # The database is created by a server that listens on the socket only.
  pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses=''" --wait start >/dev/null
  PGPASSWORD="$POSTGRES_PASSWORD" createdb --username="$POSTGRES_USER" "$POSTGRES_DB"
  pg_ctl --pgdata="$PGDATA" --mode=fast --wait stop >/dev/null
fi
if [[ -n "${POSTGRES_EXTRA_DBS:-}" ]]; then
  pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses=''" --wait start >/dev/null
  for db in $POSTGRES_EXTRA_DBS; do
    found=$(PGPASSWORD="$POSTGRES_PASSWORD" psql --username="$POSTGRES_USER" --dbname=postgres -tAX \
      -c "SELECT 1 FROM pg_database WHERE datname = '$db'")
    if [[ "$found" != "1" ]]; then
      echo "postgres: creating database $db"
      PGPASSWORD="$POSTGRES_PASSWORD" createdb --username="$POSTGRES_USER" "$db"
    fi
  done
  pg_ctl --pgdata="$PGDATA" --mode=fast --wait stop >/dev/null
fi
unset POSTGRES_PASSWORD
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql
