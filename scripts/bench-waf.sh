# The WAF workloads of scripts/bench (BENCH_ONLY=waf); sourced by it after the release build, with
# BIN, DIR, PORT and the cleanup trap set. Sets STATUS.
#
# One upstream (nginx `return 200`, core 0, beside the load generator) serves every proxy under
# test; the proxies (Rampart, nginx, nginx + ModSecurity) run on core 1, one nginx worker each and
# the Rampart runtime pinned to the one core. Each configuration is checked before it is measured:
# the benign requests must be forwarded and, for the WAFs, attacks (SQL injection in the query and
# in a form body, XSS in the query) must be answered 403 — a WAF that lets them through is not
# measured.
WAF_SECONDS="${BENCH_WAF_SECONDS:-5}"
WAF_CONNECTIONS="${BENCH_WAF_CONNECTIONS:-16,64}"
WAF_TARGETS="${BENCH_WAF_TARGETS:-a,b,c,d,e}"
PYTHON="${BENCH_PYTHON:-/var/tmp/rampart-venv/bin/python}"
UP_PORT=31670
NGINX_PORT=31671
MODSEC_PORT=31672
ELB_PORTS=31700-31719
STATUS=0

missing=()
for pkg in nginx libnginx-mod-http-modsecurity modsecurity-crs; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} (Debian packages for the nginx and ModSecurity peers)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
"$PYTHON" -c 'import boto3' 2>/dev/null || { echo "$PYTHON has no boto3 (set BENCH_PYTHON)"; STATUS=1; return; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
MODULES=/usr/lib/nginx/modules
CRS_VERSION=$(dpkg-query -W -f '${Version}' modsecurity-crs)
MODSEC_VERSION=$(dpkg-query -W -f '${Version}' libmodsecurity3)
NGINX_VERSION=$(dpkg-query -W -f '${Version}' nginx)
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root;"

# nginx CONF_NAME PORT MODSECURITY(0|1): a reverse proxy in front of the upstream, on core 1.
nginx_proxy() {
  local name=$1 port=$2 modsec=$3 load="" on=""
  if [ "$modsec" = 1 ]; then
    load="load_module $MODULES/ngx_http_modsecurity_module.so;"
    on="modsecurity on; modsecurity_rules_file $DIR/modsec-rules.conf;"
  fi
  cat >"$DIR/$name.conf" <<EOF
$load
$USER_LINE
worker_processes 1;
daemon off;
pid $DIR/$name.nginx-pid;
error_log $DIR/$name-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $DIR/$name-body;
  proxy_temp_path $DIR/$name-proxy;
  client_body_buffer_size 16k;
  upstream up { server 127.0.0.1:$UP_PORT; keepalive 128; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$port;
    keepalive_requests 1000000;
    $on
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
    }
  }
}
EOF
  "$NGINX" -t -q -p "$DIR" -c "$DIR/$name.conf" || { echo "nginx $name config invalid"; return 1; }
  taskset -c 1 "$NGINX" -p "$DIR" -c "$DIR/$name.conf" &
  echo $! >"$DIR/$name.pid"
}

# ModSecurity: Debian's recommended configuration with the engine switched from DetectionOnly to
# On, request bodies inspected, response bodies not (Rampart does not inspect responses either),
# no audit log; then the OWASP CRS as Debian's owasp-crs.load lists it (libmodsecurity 3.0 has
# no IncludeOptional) with its default setup (paranoia level 1, anomaly scoring,
# inbound threshold 5).
cat >"$DIR/modsec-rules.conf" <<EOF
Include /etc/nginx/modsecurity.conf
SecRuleEngine On
SecRequestBodyAccess On
SecResponseBodyAccess Off
SecAuditEngine Off
Include /etc/modsecurity/crs/crs-setup.conf
Include /etc/modsecurity/crs/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf
Include /usr/share/modsecurity-crs/rules/*.conf
Include /etc/modsecurity/crs/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf
EOF

# The upstream: nginx answering 200 to everything, on core 0.
cat >"$DIR/upstream.conf" <<EOF
$USER_LINE
worker_processes 1;
daemon off;
pid $DIR/upstream.nginx-pid;
error_log $DIR/upstream-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $DIR/upstream-body;
  client_body_buffer_size 16k;
  server {
    listen 127.0.0.1:$UP_PORT;
    keepalive_requests 1000000;
    location / { return 200 "ok\n"; }
  }
}
EOF
taskset -c 0 "$NGINX" -p "$DIR" -c "$DIR/upstream.conf" &
echo $! >"$DIR/upstream.pid"
nginx_proxy nginx $NGINX_PORT 0 || { STATUS=1; return; }
nginx_proxy modsec $MODSEC_PORT 1 || { STATUS=1; return; }

RAMPART_ELB_PORTS=$ELB_PORTS taskset -c 1 "$BIN" serve --data-dir "$DIR/data" \
  --listen 127.0.0.1:$PORT >"$DIR/rampart.out" 2>"$DIR/rampart.err" &
SERVER=$!
for _ in $(seq 100); do grep -q listening "$DIR/rampart.out" 2>/dev/null && break; sleep 0.1; done
for p in $UP_PORT $NGINX_PORT $MODSEC_PORT; do
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$p/" && break; sleep 0.1; done
done

declare -A ADDR
while read -r label addr; do ADDR[$label]=$addr; done < <(
  "$PYTHON" scripts/bench-waf-setup.py "http://127.0.0.1:$PORT" "$DIR/data/credentials" $UP_PORT)
ADDR[d]=127.0.0.1:$NGINX_PORT
ADDR[e]=127.0.0.1:$MODSEC_PORT
for l in a b c; do
  [ -n "${ADDR[$l]:-}" ] || { echo "Rampart setup failed (see above)"; STATUS=1; return; }
done

# Check every configuration: benign requests forwarded (200), attacks blocked (403) by the WAFs
# and forwarded by the plain proxies.
HOST_HDR="Host: shop.example.com"
UA="User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
ACCEPT="Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
code() { curl -s -o /dev/null -w '%{http_code}' -H "$HOST_HDR" -H "$UA" -H "$ACCEPT" "$@"; }
verify() {
  local label=$1 waf=$2 addr=${ADDR[$1]} want got ok=0
  want=200; [ "$waf" = 1 ] && want=403
  for check in \
    "200 benign GET|http://$addr/products/view?id=42&category=garden" \
    "200 benign form|http://$addr/account/profile|name=Jane+Doe&city=Springfield&comment=see+you+soon" \
    "200 benign JSON|http://$addr/api/orders|{\"sku\":\"SKU-1001\",\"qty\":2}|application/json" \
    "$want SQLi in query|http://$addr/products/view?id=1'%20OR%20'1'='1" \
    "$want SQLi in form body|http://$addr/account/profile|id=1'+OR+'1'%3D'1" \
    "$want XSS in query|http://$addr/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E"; do
    IFS='|' read -r expect url data ctype <<<"$check"
    local name=${expect#* }
    expect=${expect%% *}
    if [ -n "${data:-}" ]; then
      got=$(code -X POST -H "Content-Type: ${ctype:-application/x-www-form-urlencoded}" --data-binary "$data" "$url")
    else
      got=$(code "$url")
    fi
    if [ "$got" != "$expect" ]; then
      echo "! $label: $name answered $got, expected $expect"
      ok=1
    fi
  done
  return $ok
}
verify a 0 || STATUS=1
verify b 1 || STATUS=1
verify c 1 || STATUS=1
verify d 0 || STATUS=1
verify e 1 || STATUS=1
if [ "$STATUS" != 0 ]; then
  echo "a configuration does not behave as it should: not measuring"
  return
fi
echo "verified: a, d forward everything; b, c, e block SQLi (query, form body) and XSS (query) with 403"
echo "nginx $NGINX_VERSION, libmodsecurity3 $MODSEC_VERSION, OWASP CRS $CRS_VERSION (paranoia level 1)"
echo "$(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); proxies on core 1, load generator and upstream on core 0"

declare -A NAME=([a]="rampart ALB, no web ACL" [b]="rampart ALB, 20-rule web ACL"
  [c]="rampart ALB, managed core + SQL groups" [d]="nginx reverse proxy"
  [e]="nginx + ModSecurity + OWASP CRS")
TARGETS=()
for l in ${WAF_TARGETS//,/ }; do TARGETS+=(--waf-target "$l=${ADDR[$l]}=${NAME[$l]}"); done
taskset -c 0 "$BENCH" --only waf --credentials "$DIR/data/credentials" --server-cpu 1 \
  --seconds "$WAF_SECONDS" --connections "$WAF_CONNECTIONS" "${TARGETS[@]}" \
  --waf-ratio b/a,c/a,c/e,a/d || STATUS=$?
echo "Rampart RSS after load: $(awk '/VmRSS/ {print $2" "$3}' /proc/$SERVER/status)"
if grep -q "ModSecurity: Warning" "$DIR/modsec-error.log" 2>/dev/null; then
  echo "note: CRS rules matched during the run (first below); the benign requests should not match"
  grep -m1 "ModSecurity: Warning" "$DIR/modsec-error.log" | cut -c1-400
fi
