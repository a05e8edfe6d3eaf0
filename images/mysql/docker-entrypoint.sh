#!/usr/bin/env bash
# Entrypoint of tierlab/mysql: the official `mysql` image's contract on Debian's MariaDB.
#
#   MYSQL_ROOT_PASSWORD | MYSQL_ALLOW_EMPTY_PASSWORD | MYSQL_RANDOM_ROOT_PASSWORD  (one required)
#   MYSQL_ROOT_HOST (default %)   MYSQL_DATABASE   MYSQL_USER + MYSQL_PASSWORD
#   MYSQL_SERVER_ID (default 1; tierlab-specific, for replication)
#   MYSQL_INITDB_SKIP_TZINFO      any VAR_FILE variant of the above (Docker secrets)
#   /var/lib/mysql                data; initialised on first start only
#   /docker-entrypoint-initdb.d/  *.sh, *.sql, *.sql.gz run once, on first start, in name order
#
# First start: mariadb-install-db, then a temporary server WITHOUT networking for the setup, then
# the real server. "ready for connections" therefore appears twice, and
# `mysqladmin ping --protocol=tcp -h 127.0.0.1` only succeeds once the real server listens.
set -eo pipefail
shopt -s nullglob

log() { printf '%s [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*"; }
warn() { log "Warning: $*" >&2; }
die() {
    log "ERROR: $*" >&2
    exit 1
}

# file_env VAR [DEFAULT]: export VAR from $VAR or from the file named by $VAR_FILE.
file_env() {
    local var="$1" file_var="${1}_FILE" val="${2:-}"
    if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
        die "both $var and $file_var are set (but are exclusive)"
    fi
    if [ -n "${!var:-}" ]; then
        val="${!var}"
    elif [ -n "${!file_var:-}" ]; then
        val="$(<"${!file_var}")"
    fi
    export "$var"="$val"
    unset "$file_var"
}

is_server() { [ "$1" = mariadbd ] || [ "$1" = mysqld ]; }

# Help/version requests go straight to the server binary, like the official image.
wants_help() {
    local arg
    for arg; do
        case "$arg" in -'?' | --help | --print-defaults | -V | --version) return 0 ;; esac
    done
    return 1
}

# config_value NAME < HELP: a setting's effective value from `mariadbd --verbose --help` output.
config_value() {
    awk -v name="$1" '$1 == name && /^[^ \t]/ { sub(/^[^ \t]+[ \t]+/, ""); print; exit }'
}

# SQL-quote helpers: a string literal's body and an identifier's body.
sql_string() {
    local s="${1//\\/\\\\}"
    printf '%s' "${s//\'/\\\'}"
}
sql_ident() { printf '%s' "${1//\`/\`\`}"; }

# docker_process_sql [--database=DB] < SQL: run SQL as root on the temporary server's socket.
# Exported for sourced *.sh init scripts, as in the official image.
docker_process_sql() {
    MYSQL_PWD="${MYSQL_ROOT_PASSWORD:-}" mariadb --protocol=socket --socket="$SOCKET" \
        --user=root --host=localhost --comments "$@"
}

setup_env() {
    file_env MYSQL_ROOT_PASSWORD
    file_env MYSQL_ROOT_HOST '%'
    file_env MYSQL_DATABASE
    file_env MYSQL_USER
    file_env MYSQL_PASSWORD
    file_env MYSQL_ALLOW_EMPTY_PASSWORD
    file_env MYSQL_RANDOM_ROOT_PASSWORD
}

verify_env() {
    if [ -z "$MYSQL_ROOT_PASSWORD" ] && [ -z "$MYSQL_ALLOW_EMPTY_PASSWORD" ] &&
        [ -z "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
        die "Database is uninitialized and password option is not specified
    You need to specify one of the following as an environment variable:
    - MYSQL_ROOT_PASSWORD
    - MYSQL_ALLOW_EMPTY_PASSWORD
    - MYSQL_RANDOM_ROOT_PASSWORD"
    fi
    if [ "$MYSQL_USER" = root ]; then
        die 'MYSQL_USER="root", MYSQL_USER and MYSQL_PASSWORD are for configuring a regular user and cannot be used for the root user
    Remove MYSQL_USER="root" and use one of the following to control the root user password:
    - MYSQL_ROOT_PASSWORD
    - MYSQL_ALLOW_EMPTY_PASSWORD
    - MYSQL_RANDOM_ROOT_PASSWORD'
    fi
    if [ -n "$MYSQL_USER" ] && [ -z "$MYSQL_PASSWORD" ]; then
        warn "MYSQL_USER specified, but missing MYSQL_PASSWORD; MYSQL_USER will not be created"
    elif [ -z "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
        warn "MYSQL_PASSWORD specified, but missing MYSQL_USER; MYSQL_PASSWORD will be ignored"
    fi
}

temp_server_start() {
    # No networking: nothing outside the container can see a half-configured server. No binary
    # log: the setup below is the same on every instance created from the same environment, so a
    # replica started from scratch must not replay the primary's copy of it.
    "$@" --skip-networking --skip-log-bin --skip-slave-start --default-time-zone=SYSTEM \
        --socket="$SOCKET" --loose-innodb_buffer_pool_load_at_startup=0 \
        --loose-innodb_buffer_pool_dump_at_shutdown=0 &
    TEMP_PID=$!
    local i
    for i in $(seq 300); do
        if MYSQL_PWD= mariadb --protocol=socket --socket="$SOCKET" --user=root --host=localhost \
            --skip-column-names -e 'SELECT 1' >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$TEMP_PID" 2>/dev/null || die "the temporary server exited during initialisation"
        sleep 0.1
    done
    die "the temporary server did not accept connections within 30 s"
}

temp_server_stop() {
    kill "$TEMP_PID"
    wait "$TEMP_PID" || die "the temporary server did not shut down cleanly"
}

setup_db() {
    local root_pw root_host user pw db
    if [ -n "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
        MYSQL_ROOT_PASSWORD="$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 24)"
        export MYSQL_ROOT_PASSWORD
        log "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
    fi
    root_pw="$(sql_string "$MYSQL_ROOT_PASSWORD")"
    root_host="$(sql_string "$MYSQL_ROOT_HOST")"
    {
        echo "SET @@SESSION.SQL_LOG_BIN=0;"
        # Only root@localhost and (by default) root@'%' remain, as in the official image.
        echo "DROP USER IF EXISTS root@'127.0.0.1', root@'::1';"
        echo "EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname, '\'');"
        echo "SET PASSWORD FOR root@'localhost' = PASSWORD('$root_pw');"
        if [ "$MYSQL_ROOT_HOST" != localhost ]; then
            echo "CREATE USER root@'$root_host' IDENTIFIED BY '$root_pw';"
            echo "GRANT ALL ON *.* TO root@'$root_host' WITH GRANT OPTION;"
        fi
        if [ -n "$MYSQL_DATABASE" ]; then
            db="$(sql_ident "$MYSQL_DATABASE")"
            echo "CREATE DATABASE IF NOT EXISTS \`$db\`;"
        fi
        if [ -n "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
            user="$(sql_string "$MYSQL_USER")"
            pw="$(sql_string "$MYSQL_PASSWORD")"
            echo "CREATE USER '$user'@'%' IDENTIFIED BY '$pw';"
            if [ -n "$MYSQL_DATABASE" ]; then
                echo "GRANT ALL ON \`$db\`.* TO '$user'@'%';"
            fi
        fi
        echo "FLUSH PRIVILEGES;"
    } | MYSQL_ROOT_PASSWORD= docker_process_sql --database=mysql
}

load_tzinfo() {
    if [ -n "${MYSQL_INITDB_SKIP_TZINFO:-}" ] || [ ! -d /usr/share/zoneinfo ]; then
        return 0
    fi
    # The tables are the server's own (Aria/MyISAM); no binary log for the same reason as above.
    { echo "SET @@SESSION.SQL_LOG_BIN=0;"; mariadb-tzinfo-to-sql /usr/share/zoneinfo 2>/dev/null; } |
        docker_process_sql --database=mysql
}

process_init_files() {
    local f db_arg=()
    [ -n "$MYSQL_DATABASE" ] && db_arg=(--database="$MYSQL_DATABASE")
    for f; do
        case "$f" in
        *.sh)
            if [ -x "$f" ]; then
                log "running $f"
                "$f"
            else
                log "sourcing $f"
                # shellcheck disable=SC1090
                . "$f"
            fi
            ;;
        *.sql)
            log "running $f"
            docker_process_sql "${db_arg[@]}" <"$f"
            ;;
        *.sql.gz)
            log "running $f"
            gzip -dc "$f" | docker_process_sql "${db_arg[@]}"
            ;;
        *) log "ignoring $f" ;;
        esac
    done
}

init_datadir() {
    verify_env
    # A marker survives a container killed half-way through initialisation. Such a data
    # directory holds nothing but the unfinished setup, so it is cleared and initialised again
    # instead of being started without the requested users.
    if [ -e "$DATADIR/.tierlab-init-incomplete" ]; then
        warn "a previous initialisation of $DATADIR did not finish; starting it again"
        find "$DATADIR" -mindepth 1 -delete
    fi
    touch "$DATADIR/.tierlab-init-incomplete"
    log "Initializing database files"
    mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
        --skip-test-db --skip-name-resolve --skip-log-bin --default-time-zone=SYSTEM \
        --loose-innodb_buffer_pool_load_at_startup=0 \
        --loose-innodb_buffer_pool_dump_at_shutdown=0 "${@:2}" >/dev/null
    log "Database files initialized"

    log "Starting temporary server"
    temp_server_start "$@"
    log "Temporary server started."
    setup_db
    load_tzinfo
    process_init_files /docker-entrypoint-initdb.d/*
    log "Stopping temporary server"
    temp_server_stop
    log "Temporary server stopped"
    rm -f "$DATADIR/.tierlab-init-incomplete"
    log "MySQL init process done. Ready for start up."
}

main() {
    # Options first means "the server with these options": `docker run img --server-id=2`.
    if [ "${1:0:1}" = - ]; then
        set -- mariadbd "$@"
    fi
    if ! is_server "$1" || wants_help "$@"; then
        exec "$@"
    fi

    if [ "$(id -u)" = 0 ]; then
        # The volume may come from elsewhere: give the server what it must write, then drop root.
        local datadir
        # Bad options are reported below, after dropping root; the default is fine until then.
        datadir="$("$@" --verbose --help 2>/dev/null | config_value datadir)" || true
        mkdir -p "${datadir:-/var/lib/mysql}" /run/mysqld
        find "${datadir:-/var/lib/mysql}" /run/mysqld \! -user mysql -exec chown mysql:mysql '{}' +
        exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
    fi

    local server_id="${MYSQL_SERVER_ID:-1}"
    [[ "$server_id" =~ ^[0-9]+$ ]] && [ "$server_id" -ge 1 ] && [ "$server_id" -le 4294967295 ] ||
        die "MYSQL_SERVER_ID must be an integer from 1 to 4294967295, got '$server_id'"
    # Before the user's arguments, so an explicit --server-id=N still wins.
    set -- "$1" --server-id="$server_id" "${@:2}"

    # One --help run both validates the options (it fails on unknown ones) and tells where the
    # data and the socket are, with the config files and the arguments applied.
    local help
    help="$("$@" --verbose --help 2>&1)" || die "invalid server options:
$(grep -F "[ERROR]" <<<"$help")"
    DATADIR="$(config_value datadir <<<"$help")"
    DATADIR="${DATADIR%/}"
    SOCKET="$(config_value socket <<<"$help")"
    export DATADIR SOCKET
    export -f docker_process_sql

    setup_env
    if [ ! -d "$DATADIR/mysql" ] || [ -e "$DATADIR/.tierlab-init-incomplete" ]; then
        init_datadir "$@"
    fi
    exec "$@"
}

main "$@"
