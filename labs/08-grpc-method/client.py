"""Lab 08: grpcio as the client of your Counter service. One line per case, `case<TAB>what
was seen`; the check (check.rs) compares each line with what lab.proto promises.

Usage: client.py STUBS_DIR TARGET
"""
import queue
import sys

sys.path.insert(0, sys.argv[1])
import grpc
import lab_pb2 as pb
import lab_pb2_grpc as rpc

channel = grpc.insecure_channel(sys.argv[2], options=[("grpc.enable_http_proxy", 0)])
stub = rpc.CounterStub(channel)


def failed(e):
    return f"{e.code().name}: {e.details()}"


def case(name, run):
    try:
        seen = run()
    except grpc.RpcError as e:
        seen = failed(e)
    except Exception as e:  # a reply that does not parse, a bug in the case
        seen = f"client error: {type(e).__name__}: {e}"
    print(f"{name}\t{seen}", flush=True)


def add():
    t = stub.Add(pb.Numbers(values=[1, 2, 3, 4], label="four"), timeout=3)
    return f"sum={t.sum} count={t.count} label={t.label}"


def fields():
    # The reply's bytes, undecoded, next to what protobuf makes of the expected Total.
    raw = channel.unary_unary(
        "/netlab.lab.Counter/Add",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=lambda b: b,
    )
    values = [-5, 7, -(2**40)]
    got = raw(pb.Numbers(values=values, label="mixed"), timeout=3)
    want = pb.Total(sum=sum(values), count=3, label="mixed").SerializeToString()
    return f"{got.hex()} (expected {want.hex()})"


def running():
    # In turns: the next number is sent only when the total for the last one has come
    # back, so a server that waits for the end of the stream before answering is seen.
    numbers = [5, 7, -2]
    answers = queue.Queue()
    notes = []

    def turns():
        for i, n in enumerate(numbers):
            yield pb.Number(value=n)
            try:
                answers.get(timeout=2)
            except queue.Empty:
                notes.append(f"no total within 2 s of number {i + 1}; the client ended its stream")
                return

    totals = []
    for t in stub.Running(turns(), timeout=8):
        totals.append(f"{t.sum}/{t.count}")
        answers.put(t)
    return " ".join(totals) + "".join(f" ({n})" for n in notes)


def empty():
    totals = list(stub.Running(iter([]), timeout=3))
    return f"{len(totals)} totals, OK"


def invalid():
    stub.Add(pb.Numbers(values=[], label="none"), timeout=3)
    return "OK"


def overflow():
    t = stub.Add(pb.Numbers(values=[2**63 - 1, 1]), timeout=3)
    return f"OK sum={t.sum}"


def unknown():
    nope = channel.unary_unary(
        "/netlab.lab.Counter/Multiply",
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b,
    )
    nope(b"", timeout=3)
    return "OK"


for name, run in [
    ("add", add),
    ("fields", fields),
    ("running", running),
    ("empty", empty),
    ("invalid", invalid),
    ("overflow", overflow),
    ("unknown", unknown),
]:
    case(name, run)
