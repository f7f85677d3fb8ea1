"""grpcio as the server for netlab's gRPC client: netlab.Exchange done the Python way.

Usage: server.py STUBS_DIR PORT [CERT KEY]
Prints "listening on http://127.0.0.1:PORT" when ready. Echo of "slow" sleeps 2 s (for
deadline tests); Echo of "fail" answers NOT_FOUND with a message.
"""
import sys, time
from concurrent import futures

sys.path.insert(0, sys.argv[1])
import grpc
import netlab_pb2 as pb
import netlab_pb2_grpc as rpc


class Exchange(rpc.ExchangeServicer):
    def Echo(self, note, ctx):
        if note.text == "slow":
            time.sleep(2)
        if note.text == "fail":
            ctx.abort(grpc.StatusCode.NOT_FOUND, "no note 'fail' — 100% sure")
        return note

    def Subscribe(self, topic, ctx):
        for i in range(1, topic.count + 1):
            yield pb.Note(text=f"{topic.name} #{i}", seq=i)

    def Collect(self, notes, ctx):
        count = size = 0
        for n in notes:
            count += 1
            size += len(n.text.encode())
        return pb.Summary(count=count, bytes=size)

    def Chat(self, notes, ctx):
        for n in notes:
            yield n


server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
rpc.add_ExchangeServicer_to_server(Exchange(), server)
port = sys.argv[2]
if len(sys.argv) > 4:
    creds = grpc.ssl_server_credentials([(open(sys.argv[4], "rb").read(), open(sys.argv[3], "rb").read())])
    server.add_secure_port(f"127.0.0.1:{port}", creds)
else:
    server.add_insecure_port(f"127.0.0.1:{port}")
server.start()
print(f"listening on http://127.0.0.1:{port}", flush=True)
server.wait_for_termination()
