"""The same client for every gRPC and REST row: N sequential calls on one connection,
after a warm-up; prints "calls_per_s p50_us p99_us".

Usage: unary.py STUBS_DIR grpc HOST:PORT N   |   unary.py STUBS_DIR rest HOST:PORT N
"""
import sys, time, json, http.client

sys.path.insert(0, sys.argv[1])
kind, target, n = sys.argv[2], sys.argv[3], int(sys.argv[4])

if kind == "grpc":
    import grpc
    import netlab_pb2 as pb
    import netlab_pb2_grpc as rpc
    stub = rpc.ExchangeStub(grpc.insecure_channel(target, options=[("grpc.enable_http_proxy", 0)]))
    note = pb.Note(text="hello, benchmark", seq=1)
    def call():
        stub.Echo(note, timeout=10)
else:
    host, port = target.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port))
    body = json.dumps({"text": "hello, benchmark", "seq": 1})
    def call():
        conn.request("POST", "/echo", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()

for _ in range(200):
    call()
samples = []
start = time.perf_counter()
for _ in range(n):
    t = time.perf_counter()
    call()
    samples.append((time.perf_counter() - t) * 1e6)
total = time.perf_counter() - start
samples.sort()
print(f"{n / total:.1f} {samples[len(samples) // 2]:.1f} {samples[len(samples) * 99 // 100]:.1f}")
