#!/usr/bin/env bash
# One database per service, owned by a role of the same name that can reach no other database.
# The postgres image runs this once, on the first start with an empty data volume
# (/docker-entrypoint-initdb.d); later password changes are made with ALTER ROLE.
set -euo pipefail

for service in accounts notifier portal stats; do
    variable="${service^^}_DB_PASSWORD"
    password="${!variable:-}"
    if [ -z "$password" ]; then
        echo "init-databases: $variable is not set" >&2
        exit 1
    fi
    # psql quotes the :"name" and :'literal' variables itself: no password can break the SQL.
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
         -v name="$service" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
    echo "init-databases: database and role $service created"
done
