# Sourced by scripts/test: exports SAOMA_TEST_PG_URL, naming a Postgres where tests may create
# databases. Uses $SAOMA_TEST_PG_URL if set, else the server on 127.0.0.1:5432 when it answers,
# else a throwaway cluster started from the installed initdb/pg_ctl (installed from Debian's
# packages when missing), run as the `postgres` user when we are root, and stopped on exit.

pg_bin_dir() {
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return
    fi
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dir" ] && echo "$dir"
}

start_throwaway_postgres() {
    local bin port dir runas=()
    bin=$(pg_bin_dir)
    if [ -z "$bin" ]; then
        echo "scripts/test: no Postgres found; installing Debian's postgresql" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        bin=$(pg_bin_dir)
    fi
    [ -n "$bin" ] || { echo "scripts/test: cannot find or install initdb" >&2; return 1; }
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    dir=$(mktemp -d /tmp/saoma-pg.XXXXXX)
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        chown postgres "$dir"
        runas=(runuser -u postgres --)
    fi
    "${runas[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust >/dev/null
    "${runas[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
    SAOMA_PG_CLEANUP="${runas[*]} $bin/pg_ctl -D $dir/data -m fast stop"
    trap 'eval "$SAOMA_PG_CLEANUP" >/dev/null 2>&1; rm -rf "'"$dir"'"' EXIT
    export SAOMA_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
    echo "scripts/test: started a throwaway Postgres on port $port" >&2
}

if [ -z "${SAOMA_TEST_PG_URL:-}" ]; then
    if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432 \
        && psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
        export SAOMA_TEST_PG_URL="postgres://postgres@127.0.0.1:5432/postgres"
    else
        start_throwaway_postgres
    fi
fi
