"""grpcio as a client of netlab's gRPC server: every kind of call, and the errors.

Usage: client.py STUBS_DIR TARGET [CA_PEM]
Prints one line per result; the Rust test compares them.
"""
import sys, threading, queue

sys.path.insert(0, sys.argv[1])
import grpc
import netlab_pb2 as pb
import netlab_pb2_grpc as rpc

target = sys.argv[2]
if len(sys.argv) > 3:
    creds = grpc.ssl_channel_credentials(root_certificates=open(sys.argv[3], "rb").read())
    channel = grpc.secure_channel(target, creds, options=[("grpc.enable_http_proxy", 0)])
else:
    channel = grpc.insecure_channel(target, options=[("grpc.enable_http_proxy", 0)])
stub = rpc.ExchangeStub(channel)

r = stub.Echo(pb.Note(text="hello", seq=7), timeout=10)
print("Echo", r.text, r.seq)

for n in stub.Subscribe(pb.Topic(name="news", count=3), timeout=10):
    print("Subscribe", n.text, n.seq)

s = stub.Collect(iter([pb.Note(text="ab"), pb.Note(text="cde"), pb.Note(text="")]), timeout=10)
print("Collect", s.count, s.bytes)

# Chat in turns: the next note is sent only once the answer to the last one has come back,
# which works only if the server answers each note as it arrives.
answers = queue.Queue()
def turns():
    for i, text in enumerate(["one", "two", "three"]):
        yield pb.Note(text=text, seq=i + 1)
        got = answers.get(timeout=5)
        assert got == text, (got, text)
for n in stub.Chat(turns(), timeout=10):
    print("Chat", n.text, n.seq)
    answers.put(n.text)

# A method the server does not have.
nope = channel.unary_unary("/netlab.Exchange/Nope", request_serializer=lambda b: b, response_deserializer=lambda b: b)
try:
    nope(b"", timeout=10)
except grpc.RpcError as e:
    print("Nope", e.code().name)

# A message that is not a Note: field 1 with wire type 7, which does not exist.
raw = channel.unary_unary("/netlab.Exchange/Echo", request_serializer=lambda b: b, response_deserializer=lambda b: b)
try:
    raw(b"\x0f\xff", timeout=10)
except grpc.RpcError as e:
    print("Malformed", e.code().name)

# A deadline: Chat with a client that never sends, 300 ms.
def silent():
    threading.Event().wait(3)
    yield pb.Note(text="late")
try:
    for n in stub.Chat(silent(), timeout=0.3):
        print("unexpected", n.text)
except grpc.RpcError as e:
    print("Deadline", e.code().name)

# Metadata: sent and accepted (the Echo answers as usual).
r = stub.Echo(pb.Note(text="with metadata"), metadata=[("x-course", "netlab")], timeout=10)
print("Metadata", r.text)

# The server is still there after all that.
print("Echo", stub.Echo(pb.Note(text="still here"), timeout=10).text)
