#!/usr/bin/env bash
# Installs Debian's PostgreSQL for the PostgreSQL tier and leaves one cluster running on
# 127.0.0.1 with a role that may create databases (each test makes and drops its own).
#
#   bash .ci/install-postgres.sh        # as root; idempotent
#   export FORMBOT_TEST_DATABASE=postgresql+psycopg://formbot:formbot@127.0.0.1:5432/formbot
#
# Works without systemd (CI containers): the cluster is started with pg_ctlcluster.
# Overridable: PGPORT (5432), FORMBOT_PG_ROLE / FORMBOT_PG_PASSWORD / FORMBOT_PG_DB (formbot).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
port=${PGPORT:-5432}
role=${FORMBOT_PG_ROLE:-formbot}
password=${FORMBOT_PG_PASSWORD:-formbot}
database=${FORMBOT_PG_DB:-formbot}

if [[ $(id -u) -ne 0 ]]; then
    echo "install-postgres.sh: must run as root (apt-get install, pg_ctlcluster)" >&2
    exit 1
fi

# No service started by the package scripts (there may be no init system); the cluster
# is started below.
bash "$(dirname "$0")/apt-install.sh" postgresql

# The newest installed server version; its cluster "main" (created by the package, or here).
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version main"; then
    pg_createcluster --port "$port" "$version" main
fi
cluster_port=$(pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $3}')
if [[ $cluster_port != "$port" ]]; then
    echo "install-postgres.sh: cluster $version/main listens on $cluster_port, not $port" >&2
    port=$cluster_port
fi
# A test cluster holds nothing worth an fsync, and the tests create many databases.
# conf.d is included by Debian's postgresql.conf, so a file of ours keeps this idempotent.
conf="/etc/postgresql/$version/main/conf.d/formbot-ci.conf"
wanted="listen_addresses = '127.0.0.1'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300"
changed=no
if [[ ! -f $conf || $(cat "$conf") != "$wanted" ]]; then
    printf '%s\n' "$wanted" >"$conf"
    changed=yes
fi
status=$(pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}')
if [[ $status != online ]]; then
    pg_ctlcluster "$version" main start
elif [[ $changed == yes ]]; then
    pg_ctlcluster "$version" main restart
fi

# Wait until it accepts connections (start returns once the postmaster is up; be safe).
for _ in $(seq 1 30); do
    if runuser -u postgres -- pg_isready -q -p "$port"; then
        break
    fi
    sleep 1
done
runuser -u postgres -- pg_isready -p "$port"

psql_admin() { runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -qtA "$@"; }

if [[ $(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$role'") != 1 ]]; then
    psql_admin -c "CREATE ROLE \"$role\" LOGIN CREATEDB PASSWORD '$password'"
else
    psql_admin -c "ALTER ROLE \"$role\" LOGIN CREATEDB PASSWORD '$password'"
fi
if [[ $(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$database'") != 1 ]]; then
    psql_admin -c "CREATE DATABASE \"$database\" OWNER \"$role\""
fi

echo "postgresql $(psql_admin -c 'SHOW server_version') on 127.0.0.1:$port"
echo "FORMBOT_TEST_DATABASE=postgresql+psycopg://$role:$password@127.0.0.1:$port/$database"
