#!/usr/bin/env python3
"""Test client for berth-shim's control socket (shim.sock).

usage: shim-client.py SOCK ACTION...

Actions, run in order:
  line:TEXT      send TEXT followed by "\\n" (a command line)
  reply          read one reply line ("OK <pid>" / "ER <msg>"); after an ER
                 reply the remaining actions are skipped
  I:TEXT         send an 'I' frame; TEXT may use backslash escapes (\\n, \\x04)
  C              send a 'C' frame (close stdin)
  R:ROWS:COLS    send an 'R' frame (resize)
  frame:T:TEXT   send a frame of any type T
  Ibig:N         send N bytes of "x" as 'I' frames of 64 KiB
  sleep:SECS     pause
  run:CMD        run CMD with /bin/sh (must succeed)
  halfclose      shut down the sending side
  frames         read frames until 'X' and EOF
  raw            read raw bytes until EOF (a silent watcher)
  ready:FILE     create FILE (tells the caller we are connected)

Prints one JSON object: {"reply": str|null, "O": str, "E": str,
"X": str|null, "types": frame types in order, runs of one type
collapsed ("OEOX"), "raw": str, "eof": bool, "after_x": anything
received after 'X'}  (bytes decoded as latin-1, so they survive exactly).
"""
import json
import socket
import struct
import subprocess
import sys
import time

TIMEOUT = 60


def unescape(s):
    return s.encode("latin-1").decode("unicode_escape").encode("latin-1")


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        d = sock.recv(n - len(data))
        if not d:
            return None
        data += d
    return data


def main():
    path, actions = sys.argv[1], sys.argv[2:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(path)
    res = {"reply": None, "O": "", "E": "", "X": None, "types": "", "raw": "",
           "eof": False, "after_x": ""}
    rbuf = b""
    for act in actions:
        name, _, arg = act.partition(":")
        if name == "line":
            s.sendall(arg.encode() + b"\n")
        elif name == "reply":
            while b"\n" not in rbuf:
                d = s.recv(4096)
                if not d:
                    break
                rbuf += d
            line, _, rbuf = rbuf.partition(b"\n")
            res["reply"] = line.decode("latin-1")
            if not line.startswith(b"OK "):
                # the shim closes after ER: read to EOF
                while True:
                    d = s.recv(4096)
                    if not d:
                        break
                    rbuf += d
                res["eof"] = True
                res["raw"] = rbuf.decode("latin-1")
                break
        elif name == "I":
            data = unescape(arg)
            s.sendall(struct.pack(">cI", b"I", len(data)) + data)
        elif name == "C":
            s.sendall(struct.pack(">cI", b"C", 0))
        elif name == "R":
            rows, cols = (int(x) for x in arg.split(":"))
            s.sendall(struct.pack(">cIHH", b"R", 4, rows, cols))
        elif name == "Ibig":
            left = int(arg)
            while left > 0:
                n = min(left, 65536)
                s.sendall(struct.pack(">cI", b"I", n) + b"x" * n)
                left -= n
        elif name == "frame":
            t, _, text = arg.partition(":")
            data = unescape(text)
            s.sendall(struct.pack(">cI", t.encode(), len(data)) + data)
        elif name == "sleep":
            time.sleep(float(arg))
        elif name == "run":
            subprocess.run(["/bin/sh", "-c", arg], check=True)
        elif name == "halfclose":
            s.shutdown(socket.SHUT_WR)
        elif name == "ready":
            open(arg, "w").close()
        elif name == "raw":
            while True:
                d = s.recv(4096)
                if not d:
                    break
                rbuf += d
            res["raw"] = rbuf.decode("latin-1")
            res["eof"] = True
            rbuf = b""
        elif name == "frames":
            while True:
                while len(rbuf) < 5:
                    d = s.recv(65536)
                    if not d:
                        break
                    rbuf += d
                if len(rbuf) < 5:
                    res["eof"] = True
                    if rbuf:
                        res["after_x"] += rbuf.decode("latin-1")
                    break
                t, n = struct.unpack(">cI", rbuf[:5])
                while len(rbuf) < 5 + n:
                    d = s.recv(65536)
                    if not d:
                        break
                    rbuf += d
                if len(rbuf) < 5 + n:
                    res["eof"] = True
                    res["types"] += "!"  # truncated frame
                    break
                payload, rbuf = rbuf[5:5 + n], rbuf[5 + n:]
                t = t.decode("latin-1")
                if res["X"] is not None:
                    res["after_x"] += t
                if t not in res["types"][-1:]:
                    res["types"] += t
                if t in ("O", "E"):
                    res[t] += payload.decode("latin-1")
                elif t == "X":
                    res["X"] = payload.decode("latin-1")
        else:
            sys.exit("unknown action " + act)
    s.close()
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
