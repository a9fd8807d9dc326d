#!/usr/bin/env python3
"""Writes the committed seed corpus: fuzz/corpus/<target>/seed-*.

Deterministic: re-running it rewrites the same files. Run from anywhere:

    python3 fuzz/make-seeds.py

Input layouts (see the targets' doc comments):
  frame_decode  raw frames, back to back
  hpack_decode  [cap][table] then records: u16 BE length + block (high bit: table size op)
  conn_server   [seed u32 LE][knobs] then client bytes after the preface + SETTINGS
  conn_client   [seed u32 LE][knobs] then server bytes after its SETTINGS
  roundtrip     arbitrary bytes (interpreted by `arbitrary`)
  config_parse  a TOML file (the examples/ configurations and broken variants)
  socks5        [max_jwt / 16] then one SOCKS5 message
  jwt           [mode] then a token, or (mode 1) header 0xff payload to sign
  path_check    [knob] then a request path (the GET cases of tests/data/bypass_corpus.txt)
"""

import json
import re
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
STORY = os.path.join(HERE, "..", "..", "shared", "testdata", "hpack-test-case", "nghttp2", "story_00.json")

# Frame types and flags (RFC 9113 §6).
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM = ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIO = 0x20


def frame(kind, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", sid) + payload


def settings(**kv):
    ids = dict(header_table_size=1, enable_push=2, max_concurrent_streams=3, initial_window_size=4,
               max_frame_size=5, max_header_list_size=6, enable_connect_protocol=8)
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", ids[k], v) for k, v in kv.items()))


SETTINGS_ACK = frame(SETTINGS, ACK, 0)


def window_update(sid, inc):
    return frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", inc))


# --- a minimal HPACK encoder: static-table indices and literals without indexing, no Huffman.

def hint(value, prefix, flags=0):
    limit = (1 << prefix) - 1
    if value < limit:
        return bytes([flags | value])
    out = [flags | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


STATIC = {(":method", "GET"): 2, (":method", "POST"): 3, (":path", "/"): 4, (":scheme", "http"): 6,
          (":scheme", "https"): 7, (":status", "200"): 8, (":status", "204"): 9, (":status", "404"): 13}


def hpack(fields):
    out = b""
    for name, value in fields:
        if (name, value) in STATIC:
            out += hint(STATIC[(name, value)], 7, 0x80)
            continue
        n, v = name.encode(), value.encode()
        out += b"\x00" + hint(len(n), 7) + n + hint(len(v), 7) + v
    return out


def headers(sid, fields, end_stream=False):
    return frame(HEADERS, END_HEADERS | (END_STREAM if end_stream else 0), sid, hpack(fields))


def get(path="/", authority="erp.internal:443"):
    return [(":method", "GET"), (":scheme", "https"), (":authority", authority), (":path", path),
            ("accept", "*/*"), ("user-agent", "seed/1")]


def post(length):
    return [(":method", "POST"), (":scheme", "https"), (":authority", "erp.internal:443"),
            (":path", "/upload"), ("content-type", "application/json"), ("content-length", str(length))]


def response(status="200", extra=()):
    return [(":status", status)] + list(extra)


# --- RFC 7541 Appendix C header blocks.
C3 = ["828684410f7777772e6578616d706c652e636f6d",
      "828684be58086e6f2d6361636865",
      "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565"]
C4 = ["828684418cf1e3c2e5f23a6ba0ab90f4ff",
      "828684be5886a8eb10649cbf",
      "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"]
C5 = ["4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d54"
      "6e1768747470733a2f2f7777772e6578616d706c652e636f6d",
      "4803333037c1c0bf",
      "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f"
      "3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076"
      "657273696f6e3d31"]
C6 = ["488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b"
      "97c8e9ae82ae43d3",
      "4883640effc1c0bf",
      "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdf"
      "cd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007"]


def blocks(hexes):
    return [bytes.fromhex(h) for h in hexes]


def with_table_256(bs):
    """C.5 and C.6 were encoded for a 256-byte table: start with that size update (§6.3)."""
    return [hint(256, 5, 0x20) + bs[0]] + bs[1:]


def story_blocks():
    with open(STORY) as f:
        return [bytes.fromhex(c["wire"]) for c in json.load(f)["cases"]]


def conn_input(seed, knobs, body):
    return struct.pack("<I", seed) + bytes([knobs]) + body


def hpack_input(cap, table, recs):
    out = bytes([cap, table])
    for r in recs:
        if isinstance(r, int):  # table size op
            out += struct.pack(">H", 0x8000 | r)
        else:
            out += struct.pack(">H", len(r)) + r
    return out


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def config_seeds():
    """The example configurations and variants that exercise each kind of error."""
    examples = os.path.join(HERE, "..", "examples")
    for name in ("connector", "relay"):
        with open(os.path.join(examples, name + ".toml"), "rb") as f:
            text = f.read()
        write("config_parse", name, text)
        write("config_parse", name + "-truncated", text[: len(text) // 2])
        write("config_parse", name + "-unknown-key", text.replace(b"tenant", b"tennant", 1))
    write("config_parse", "both-kinds", b"[relay]\n[connector]\n")
    write("config_parse", "bad-values",
          b'[relay]\nca = ""\ncert = "c"\nkey = "k"\n[relay.socks5]\nlisten = "x:1"\n'
          b'[[identity_provider]]\nname = "-"\nissuer = ""\naudience = "a"\n'
          b'algorithms = ["none", "HS256"]\ntenant_claim = "t"\n'
          b'[[tenant]]\nname = "a"\ntrusted = true\nlocations = ["x"]\n'
          b'[[tenant.user]]\nname = "u"\npassword_hash = "$argon2id$v=19$m=1,t=0,p=1$a$b"\n')


def main():
    c3, c4, c5, c6, story = blocks(C3), blocks(C4), blocks(C5), blocks(C6), story_blocks()

    # ---------------------------------------------------------------- frame_decode
    every = {
        "data": frame(DATA, END_STREAM, 1, b"hello world"),
        "data-padded": frame(DATA, PADDED, 3, b"\x04abcd\0\0\0\0"),
        "headers": frame(HEADERS, END_HEADERS | END_STREAM, 1, c3[0]),
        "headers-prio-padded": frame(HEADERS, END_HEADERS | PADDED | PRIO, 5,
                                     b"\x02" + struct.pack(">IB", 0x80000003, 15) + c4[0] + b"\0\0"),
        "priority": frame(PRIORITY, 0, 7, struct.pack(">IB", 1, 200)),
        "rst-stream": frame(RST_STREAM, 0, 1, struct.pack(">I", 8)),
        "settings": settings(header_table_size=4096, enable_push=0, max_concurrent_streams=100,
                             initial_window_size=1 << 20, max_frame_size=1 << 16,
                             max_header_list_size=1 << 16, enable_connect_protocol=1),
        "settings-ack": SETTINGS_ACK,
        "push-promise": frame(PUSH_PROMISE, END_HEADERS, 1, struct.pack(">I", 2) + c3[0]),
        "ping": frame(PING, 0, 0, b"12345678") + frame(PING, ACK, 0, b"12345678"),
        "goaway": frame(GOAWAY, 0, 0, struct.pack(">II", 7, 11) + b"too many resets"),
        "window-update": window_update(0, 1 << 20) + window_update(1, 65535),
        "continuation": frame(HEADERS, 0, 9, c3[0][:5]) + frame(CONTINUATION, END_HEADERS, 9, c3[0][5:]),
        "unknown": frame(0x10, 0xff, 3, b"ignore me"),
    }
    for name, data in every.items():
        write("frame_decode", name, data)
    write("frame_decode", "all", b"".join(every.values()))

    # ---------------------------------------------------------------- hpack_decode
    write("hpack_decode", "rfc7541-c3", hpack_input(255, 128, c3))
    write("hpack_decode", "rfc7541-c4", hpack_input(255, 128, c4))
    write("hpack_decode", "rfc7541-c5", hpack_input(255, 8, c5))
    write("hpack_decode", "rfc7541-c6", hpack_input(255, 8, c6))
    write("hpack_decode", "rfc7541-c6-small-cap", hpack_input(4, 8, c6))
    write("hpack_decode", "nghttp2-story00", hpack_input(255, 128, story))
    write("hpack_decode", "table-size-change", hpack_input(64, 128, [c4[0], 0, b"\x20" + c3[0], 100, 4096, c3[0]]))
    write("hpack_decode", "literals", hpack_input(16, 128, [hpack(get()), hpack(post(5)), hpack(response())]))

    # ---------------------------------------------------------------- conn_server
    # The harness sends the preface and an empty SETTINGS first.
    body = b"{\"hello\":1}"
    server = {
        "get": SETTINGS_ACK + headers(1, get(), end_stream=True),
        "post": SETTINGS_ACK + headers(1, post(len(body))) + frame(DATA, END_STREAM, 1, body),
        "rfc-c3-streams": SETTINGS_ACK + b"".join(
            frame(HEADERS, END_HEADERS | END_STREAM, 2 * i + 1, b) for i, b in enumerate(c3)),
        "rfc-c4-streams": SETTINGS_ACK + b"".join(
            frame(HEADERS, END_HEADERS | END_STREAM, 2 * i + 1, b) for i, b in enumerate(c4)),
        "nghttp2-story00": SETTINGS_ACK + b"".join(
            frame(HEADERS, END_HEADERS | END_STREAM, 2 * i + 1, b) for i, b in enumerate(story)),
        "continuation": SETTINGS_ACK + frame(HEADERS, 0, 1, hpack(get())[:7])
        + frame(CONTINUATION, 0, 1, hpack(get())[7:12]) + frame(CONTINUATION, END_HEADERS | END_STREAM, 1,
                                                              hpack(get())[12:]),
        "connect": settings(enable_connect_protocol=1) + SETTINGS_ACK
        + headers(1, [(":method", "CONNECT"), (":authority", "ldap.internal:389")])
        + frame(DATA, 0, 1, b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00")
        + frame(DATA, END_STREAM, 1, b""),
        "control": SETTINGS_ACK + frame(PING, 0, 0, b"pingpong") + window_update(0, 1 << 20)
        + headers(1, get("/big")) + window_update(1, 1 << 20) + frame(PRIORITY, 0, 3, struct.pack(">IB", 1, 16))
        + frame(RST_STREAM, 0, 1, struct.pack(">I", 8)) + frame(GOAWAY, 0, 0, struct.pack(">II", 0, 0)),
        "trailers": SETTINGS_ACK + headers(1, post(3) + [("te", "trailers")]) + frame(DATA, 0, 1, b"abc")
        + frame(HEADERS, END_HEADERS | END_STREAM, 1, hpack([("grpc-status", "0")])),
        "many-streams": SETTINGS_ACK + settings(initial_window_size=1 << 20, max_frame_size=1 << 15)
        + b"".join(headers(2 * i + 1, get("/s/%d" % i), end_stream=True) for i in range(12))
        + window_update(0, 1 << 24),
        "no-ack-timeout": headers(1, get(), end_stream=True) + frame(PING, 0, 0, b"\0" * 8),
        "rapid-reset": SETTINGS_ACK + b"".join(
            headers(2 * i + 1, get(), end_stream=True) + frame(RST_STREAM, 0, 2 * i + 1, struct.pack(">I", 8))
            for i in range(8)),
    }
    for i, (name, data) in enumerate(server.items()):
        # Knobs 0: the input carries its own SETTINGS ACK (where it acknowledges at all);
        # 1: tight limits.
        write("conn_server", name, conn_input(0x1000 + i, 0, data))
        write("conn_server", name + "-tight", conn_input(0x2000 + i, 1, data))

    # ---------------------------------------------------------------- conn_client
    # The client has opened streams 1, 3, 5 before the input; the harness sends an empty
    # server SETTINGS first.
    client = {
        "responses": SETTINGS_ACK + headers(1, response(extra=[("content-length", "5")])) + frame(DATA, END_STREAM, 1, b"hello")
        + headers(3, response("204"), end_stream=True) + headers(5, response("404"), end_stream=True),
        "rfc-c6-responses": SETTINGS_ACK + b"".join(
            frame(HEADERS, END_HEADERS | END_STREAM, 2 * i + 1, b) for i, b in enumerate(with_table_256(c6))),
        "rfc-c5-responses": SETTINGS_ACK + b"".join(
            frame(HEADERS, END_HEADERS | END_STREAM, 2 * i + 1, b) for i, b in enumerate(with_table_256(c5))),
        "interim-and-trailers": SETTINGS_ACK + headers(1, response("100")) + headers(1, response())
        + frame(DATA, 0, 1, b"partial") + frame(HEADERS, END_HEADERS | END_STREAM, 1, hpack([("grpc-status", "0")])),
        "flow-control": settings(initial_window_size=10, max_frame_size=16384) + SETTINGS_ACK
        + window_update(3, 100) + window_update(0, 100000) + window_update(3, 1 << 16)
        + headers(3, response()) + frame(DATA, END_STREAM, 3, b"x" * 300),
        "goaway": SETTINGS_ACK + headers(1, response(), end_stream=True) + frame(GOAWAY, 0, 0, struct.pack(">II", 1, 0))
        + frame(PING, ACK, 0, b"fuzzping"),
        "reset": SETTINGS_ACK + frame(RST_STREAM, 0, 3, struct.pack(">I", 7)) + headers(1, response())
        + frame(DATA, PADDED | END_STREAM, 1, b"\x03abc\0\0\0"),
        "server-settings": settings(header_table_size=0, max_concurrent_streams=1, max_frame_size=20000,
                                    max_header_list_size=100) + SETTINGS_ACK + headers(1, response(), end_stream=True),
    }
    for i, (name, data) in enumerate(client.items()):
        # Knobs 0: plain; 5: tight limits and a lazy application.
        write("conn_client", name, conn_input(0x3000 + i, 0, data))
        write("conn_client", name + "-tight", conn_input(0x4000 + i, 5, data))

    # ---------------------------------------------------------------- socks5
    # [max_jwt knob: limit = knob * 16] then a message; each parser sees the same bytes.
    jwt = b"eyJhbGciOiJFUzI1NiJ9.eyJ6aWQiOiJ0In0.c2ln"
    socks = {
        "greeting-sap": b"\x05\x01\x80",
        "greeting-all": b"\x05\x03\x00\x02\x80",
        "sap-auth-base64": b"\x01" + struct.pack(">I", len(jwt)) + jwt + b"\x08bG9jLTE=",
        "sap-auth-raw": b"\x01" + struct.pack(">I", len(jwt)) + jwt + b"\x05loc-1",
        "sap-auth-no-location": b"\x01" + struct.pack(">I", len(jwt)) + jwt + b"\x00",
        "userpass": b"\x01\x05alice\x06s3cret",
        "connect-v4": b"\x05\x01\x00\x01\x0a\x00\x00\x01\x01\xbb",
        "connect-v6": b"\x05\x01\x00\x04" + bytes(15) + b"\x01\x00\x50",
        "connect-domain": b"\x05\x01\x00\x03\x0berp.virtual\x00\x50",
        "bind": b"\x05\x02\x00\x01\x7f\x00\x00\x01\x00\x50",
        "reply-no-mapping": b"\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00",
    }
    for name, data in socks.items():
        write("socks5", name, b"\x10" + data)

    # ---------------------------------------------------------------- jwt
    # [mode] then a token (mode 0) or `header 0xff payload` signed by the target (mode 1).
    hdr = b'{"alg":"ES256","kid":"k","typ":"JWT"}'
    ok = b'{"iss":"i","aud":["a","b"],"zid":"tenant-a","sub":"s","exp":1800000100,"nbf":1799999990}'
    write("jwt", "signed-valid", b"\x01" + hdr + b"\xff" + ok)
    write("jwt", "signed-expired", b"\x01" + hdr + b"\xff" + ok.replace(b"1800000100", b"1700000000"))
    write("jwt", "signed-crit", b"\x01" + hdr[:-1] + b',"crit":["x"]}' + b"\xff" + ok)
    write("jwt", "none", b"\x00eyJhbGciOiJub25lIn0.eyJpc3MiOiJpIn0.")
    write("jwt", "hs256", b"\x00eyJhbGciOiJIUzI1NiIsImtpZCI6ImsifQ.eyJpc3MiOiJpIn0.c2ln")

    # ---------------------------------------------------------------- roundtrip
    rng = random.Random(7541)
    for i in range(6):
        write("roundtrip", "random-%d" % i, bytes(rng.randrange(256) for _ in range(64 << i)))
    write("roundtrip", "frames-all", b"".join(every.values()))
    write("roundtrip", "rfc-c4", b"".join(c4))

    config_seeds()
    # ---------------------------------------------------------------- path_check
    corpus = os.path.join(HERE, "..", "tests", "data", "bypass_corpus.txt")
    with open(corpus, encoding="utf-8") as f:
        paths = [l.rstrip("\n").split("\t")[3] for l in f if l.startswith("GET\t")]
    for i, p in enumerate(paths):
        raw = re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), p).encode("latin-1")
        write("path_check", "bypass-%02d" % i, bytes([0]) + raw)
    write("path_check", "websocket", b"\x80/ws/feed?x=1")


if __name__ == "__main__":
    main()
