"""Real STUN and TURN clients against `netlab stun serve` / `netlab turn serve`
(tests/stun_turn.rs). Each mode prints what it saw, one fact per line, and exits non-zero on
any failure.

  stun PORT                    aioice's STUN client asks for the mapped address
  turn PORT USER PASS          aioice's TURN client: allocate, send to a UDP echo peer
                               through the relay (ChannelBind + ChannelData), get the echo
                               back, refresh, delete
  aiortc PORT USER PASS        two aiortc peers, iceTransportPolicy "relay", a data channel
                               through the relay: it opens, messages echo, candidates are relay
"""

import asyncio
import sys

from aioice import stun, turn


async def stun_mode(port):
    loop = asyncio.get_running_loop()
    answer = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            if not answer.done():
                answer.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(Client, local_addr=("127.0.0.1", 0))
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    request.add_fingerprint()
    transport.sendto(bytes(request), ("127.0.0.1", port))
    response = stun.parse_message(await asyncio.wait_for(answer, 5))
    assert response.message_class == stun.Class.RESPONSE, response
    assert response.transaction_id == request.transaction_id
    mapped = response.attributes["XOR-MAPPED-ADDRESS"]
    mine = transport.get_extra_info("sockname")
    print(f"mapped {mapped[0]}:{mapped[1]} mine {mine[0]}:{mine[1]}", flush=True)
    print(f"software {response.attributes.get('SOFTWARE')}", flush=True)
    transport.close()


async def turn_mode(port, user, password):
    loop = asyncio.get_running_loop()

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            self.transport.sendto(data, addr)

    echo_transport, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    echo = echo_transport.get_extra_info("sockname")
    got = asyncio.Queue()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            got.put_nowait((data, addr))

    transport, _ = await turn.create_turn_endpoint(
        Client, server_addr=("127.0.0.1", port), username=user, password=password
    )
    relayed = transport.get_extra_info("sockname")
    print(f"relayed {relayed[0]}:{relayed[1]}", flush=True)
    for i in range(3):
        message = f"hello {i} through the relay".encode()
        transport.sendto(message, echo)
        data, addr = await asyncio.wait_for(got.get(), 5)
        assert data == message, (data, message)
        assert tuple(addr) == tuple(echo), (addr, echo)
        print(f"echo {data.decode()} from {addr[0]}:{addr[1]}", flush=True)
    # An odd length: the padding rules of ChannelData over UDP.
    odd = bytes(range(7))
    transport.sendto(odd, echo)
    data, _ = await asyncio.wait_for(got.get(), 5)
    assert data == odd, data
    print("echo 7 odd bytes", flush=True)
    # The TURN client under the datagram transport sends the Refresh it would send every
    # few minutes (its refresh() is that periodic loop).
    inner = transport._TurnTransport__inner_protocol
    request = stun.Message(message_method=stun.Method.REFRESH, message_class=stun.Class.REQUEST)
    request.attributes["LIFETIME"] = 600
    response, _ = await inner.request_with_retry(request)
    print(f"refreshed LIFETIME={response.attributes['LIFETIME']}", flush=True)
    transport.close()
    await asyncio.sleep(0.5)
    print("deleted", flush=True)
    echo_transport.close()


async def aiortc_mode(port, user, password):
    from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
    from aiortc.rtcconfiguration import RTCIceTransportPolicy

    def config():
        return RTCConfiguration(
            iceServers=[RTCIceServer(urls=f"turn:127.0.0.1:{port}", username=user, credential=password)],
            iceTransportPolicy=RTCIceTransportPolicy.RELAY,
        )

    a, b = RTCPeerConnection(config()), RTCPeerConnection(config())
    channel = a.createDataChannel("relay")
    echoed = asyncio.Queue()
    opened = asyncio.Event()
    channel.on("open", opened.set)
    channel.on("message", lambda m: echoed.put_nowait(m))

    @b.on("datachannel")
    def on_channel(ch):
        ch.on("message", lambda m: ch.send(m))

    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    for name, sdp in (("offer", a.localDescription.sdp), ("answer", b.localDescription.sdp)):
        kinds = sorted({line.split()[7] for line in sdp.splitlines() if line.startswith("a=candidate:")})
        print(f"{name} candidates: {' '.join(kinds)}", flush=True)
    await asyncio.wait_for(opened.wait(), 20)
    print("channel open", flush=True)
    for m in ["through", "the", b"\x00relay\xff"]:
        channel.send(m)
        back = await asyncio.wait_for(echoed.get(), 10)
        assert back == m, (back, m)
    print("echoed 3 messages", flush=True)
    pair = a.sctp.transport.transport._connection._nominated
    for component, p in pair.items():
        print(f"pair {p.local_candidate.type} -> {p.remote_candidate.type}", flush=True)
    await a.close()
    await b.close()


def main():
    mode = sys.argv[1]
    port = int(sys.argv[2])
    if mode == "stun":
        asyncio.run(stun_mode(port))
    elif mode == "turn":
        asyncio.run(turn_mode(port, sys.argv[3], sys.argv[4]))
    elif mode == "aiortc":
        asyncio.run(aiortc_mode(port, sys.argv[3], sys.argv[4]))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
