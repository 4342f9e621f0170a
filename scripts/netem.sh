#!/usr/bin/env bash
# netem.sh — run autorep's dealer, model server and client in three network
# namespaces joined by veth pairs shaped with `tc netem`, to measure private
# inference over an emulated LAN or WAN (DESIGN §2.4, Cheetah's settings):
#
#   lan: 3 Gbit/s, 0.3 ms round trip      wan: 400 Mbit/s, 40 ms round trip
#
# Usage (as root; needs iproute2's `ip` and `tc`, nothing is installed):
#   scripts/netem.sh [lan|wan|both] [--model FILE] [--n N] [--bin PATH] [--out DIR]
#
# Topology (addresses exist only on the veths this script creates inside its
# own namespaces; nothing is routed to or from the host or any other network):
#   client 10.200.1.2 <-> 10.200.1.1 server
#   server 10.200.2.2 <-> 10.200.2.1 dealer
#   client 10.200.3.2 <-> 10.200.3.1 dealer
# Every veth end gets `netem delay RTT/2 rate BW`, so each link has the full
# round trip and bandwidth in each direction. TLS is on (a self-signed
# certificate for the three addresses, written to the output directory).
# Everything (processes, namespaces, veths) is removed on exit, also on
# errors and Ctrl-C. Kernels without the netem qdisc (sch_netem; e.g. some
# minimal VM kernels): the script says so and uses the processes' own link
# emulation instead (--emulate-link lan|wan on dealer, serve and infer:
# each delays and paces its outgoing bytes), still over the veths.
#
# Data: the client classifies --n MNIST test images (default 20) from
# $AUTOREP_DATA (or ~/.cache/autorep/data). Results: one JSON report per
# setting in --out (default ./netem-results), human lines on stderr.
set -euo pipefail

setting=both
model=models/lenet-mnist-autorep10.safetensors
n=20
bin=./bin/autorep
out=./netem-results
while [ $# -gt 0 ]; do
	case "$1" in
	lan | wan | both) setting=$1 ;;
	--model) model=$2; shift ;;
	--n) n=$2; shift ;;
	--bin) bin=$2; shift ;;
	--out) out=$2; shift ;;
	-h | --help) sed -n '2,30p' "$0"; exit 0 ;;
	*) echo "netem.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

for tool in ip tc; do
	if ! command -v "$tool" > /dev/null; then
		echo "netem.sh: '$tool' not found: install iproute2 (e.g. apt-get install iproute2); this script installs nothing" >&2
		exit 1
	fi
done
if [ "$(id -u)" != 0 ]; then
	echo "netem.sh: network namespaces and tc need root (or CAP_NET_ADMIN)" >&2
	exit 1
fi
[ -x "$bin" ] || { echo "netem.sh: no autorep binary at $bin (go build -o bin/autorep ./cmd/autorep, or --bin)" >&2; exit 1; }
[ -f "$model" ] || { echo "netem.sh: no model file $model (--model)" >&2; exit 1; }
bin=$(realpath "$bin")
model=$(realpath "$model")
mkdir -p "$out"
out=$(realpath "$out")

tag="ar$$"
nsc="$tag-client" nss="$tag-server" nsd="$tag-dealer"
pids=()

cleanup() {
	set +e
	for p in "${pids[@]}"; do kill -TERM "$p" 2> /dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2> /dev/null; done
	for ns in "$nsc" "$nss" "$nsd"; do ip netns del "$ns" 2> /dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for ns in "$nsc" "$nss" "$nsd"; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
done

# link NS_A ADDR_A NS_B ADDR_B NAME: a veth pair with a /30 on each end.
link() {
	local a=$1 ia=$2 b=$3 ib=$4 name=$5
	ip link add "$tag$name-a" netns "$a" type veth peer name "$tag$name-b" netns "$b"
	ip -n "$a" addr add "$ia/30" dev "$tag$name-a"
	ip -n "$b" addr add "$ib/30" dev "$tag$name-b"
	ip -n "$a" link set "$tag$name-a" up
	ip -n "$b" link set "$tag$name-b" up
}
link "$nss" 10.200.1.1 "$nsc" 10.200.1.2 cs
link "$nsd" 10.200.2.1 "$nss" 10.200.2.2 sd
link "$nsd" 10.200.3.1 "$nsc" 10.200.3.2 cd

# shape DELAY RATE: netem on every veth end.
shape() {
	local delay=$1 rate=$2
	for pair in "$nss:${tag}cs-a" "$nsc:${tag}cs-b" "$nsd:${tag}sd-a" "$nss:${tag}sd-b" "$nsd:${tag}cd-a" "$nsc:${tag}cd-b"; do
		ip netns exec "${pair%%:*}" tc qdisc replace dev "${pair#*:}" root netem delay "$delay" rate "$rate" limit 1000000
	done
}

"$bin" dealer --gen-cert "$out/tls" --hosts 10.200.1.1,10.200.2.1,10.200.3.1 2> /dev/null
cert="$out/tls/cert.pem" key="$out/tls/key.pem"
tlsflags=(--tls-cert "$cert" --tls-key "$key" --tls-ca "$cert")

# Does the kernel have netem? If not (e.g. minimal VM kernels), fall back to
# the processes' own link emulation (--emulate-link: every process delays
# and paces its outgoing bytes, secnet.Shape), still over the veths.
if ip netns exec "$nsc" tc qdisc add dev lo root netem delay 1ms 2> /dev/null; then
	ip netns exec "$nsc" tc qdisc del dev lo root
	mode=netem
else
	mode=emulate
	echo "netem.sh: this kernel has no netem qdisc (sch_netem); emulating the links in the processes (--emulate-link)" >&2
fi

run() {
	local name=$1 delay=$2 rate=$3 emu=()
	if [ "$mode" = netem ]; then
		shape "$delay" "$rate"
	else
		emu=(--emulate-link "$name")
	fi
	echo "== $name ($mode): one-way delay $delay, rate $rate per direction; $n MNIST images, model $(basename "$model")" >&2
	ip netns exec "$nsd" "$bin" dealer --listen 0.0.0.0:7001 "${tlsflags[@]}" "${emu[@]}" --quiet 2> "$out/$name-dealer.log" &
	local dpid=$!
	pids+=($dpid)
	ip netns exec "$nss" "$bin" serve --model "$model" --listen 10.200.1.1:7002 --dealer 10.200.2.1:7001 \
		--advertise-dealer 10.200.3.1:7001 --pool 2 "${tlsflags[@]}" "${emu[@]}" --quiet 2> "$out/$name-serve.log" &
	local spid=$!
	pids+=($spid)
	for _ in $(seq 150); do
		grep -q "listening on" "$out/$name-serve.log" 2> /dev/null && break
		sleep 0.2
	done
	if command -v ping > /dev/null; then ip netns exec "$nsc" ping -c 3 -q 10.200.1.1 | tail -1 >&2; fi
	# The client pins the dealer (infer refuses a server-advertised one).
	ip netns exec "$nsc" "$bin" infer --server 10.200.1.1:7002 --tls-ca "$cert" --dealer 10.200.3.1:7001 --dealer-ca "$cert" "${emu[@]}" \
		--dataset mnist --index 0 --count "$n" --pool 4 --json > "$out/$name.json"
	kill -TERM "$spid" "$dpid"
	wait "$spid" "$dpid" || true
	echo "   report: $out/$name.json" >&2
	if command -v python3 > /dev/null; then
		python3 - "$out/$name.json" >&2 << 'PY'
import json, sys
r = json.load(open(sys.argv[1]))
im = r["images"]
k = len(im)
avg = lambda f: sum(f(i) for i in im) / k
print(f"   {k} images: accuracy {100*r['accuracy']:.1f}%, online {avg(lambda i: i['latency_ms']['online']):.1f} ms, "
      f"offline {avg(lambda i: i['latency_ms']['offline']):.1f} ms, {avg(lambda i: i['bytes']['online'])/1e3:.1f} kB online, "
      f"{avg(lambda i: i['rounds']):.0f} rounds, material {avg(lambda i: i['bytes']['material'])/1e6:.1f} MB; "
      f"session opened in {r['connect']['ms']:.0f} ms")
PY
	fi
}

case "$setting" in
lan) run lan 150us 3gbit ;;
wan) run wan 20ms 400mbit ;;
both) run lan 150us 3gbit; run wan 20ms 400mbit ;;
esac
