package dev.berth.cli.rpc;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;

/**
 * What a gRPC response's header blocks say: the HTTP status and content type of the headers, the grpc-status and
 * grpc-message of the trailers (gRPC over HTTP/2: PROTOCOL-HTTP2.md), and the codes the gRPC doc gives a response
 * that is not gRPC at all (a proxy, a wrong server).
 */
final class ResponseHeaders {
    final String status;
    final String contentType;
    final String grpcStatus;
    final String grpcMessage;

    private ResponseHeaders(String status, String contentType, String grpcStatus, String grpcMessage) {
        this.status = status;
        this.contentType = contentType;
        this.grpcStatus = grpcStatus;
        this.grpcMessage = grpcMessage;
    }

    /** From a decoded header block: names and values alternating. */
    static ResponseHeaders of(ArrayList<String> fields) {
        String status = null;
        String contentType = null;
        String grpcStatus = null;
        String grpcMessage = null;
        for (int i = 0; i + 1 < fields.size(); i += 2) {
            String name = fields.get(i);
            if (name.equals(":status")) {
                status = fields.get(i + 1);
            } else if (name.equals("content-type")) {
                contentType = fields.get(i + 1);
            } else if (name.equals("grpc-status")) {
                grpcStatus = fields.get(i + 1);
            } else if (name.equals("grpc-message")) {
                grpcMessage = fields.get(i + 1);
            }
        }
        return new ResponseHeaders(status, contentType, grpcStatus, grpcMessage);
    }

    /** The :status as a number, or -1. */
    int httpStatus() {
        return parseInt(status);
    }

    /** The grpc-status as a number, or -1. */
    int grpcStatusValue() {
        return parseInt(grpcStatus);
    }

    /** The grpc-message, percent-decoded, or null. */
    String message() {
        return grpcMessage == null ? null : percentDecode(grpcMessage);
    }

    boolean isGrpc() {
        return contentType != null && contentType.startsWith("application/grpc");
    }

    /** gRPC's mapping of HTTP status to a code, for responses that are not gRPC. */
    static Code httpCode(int httpStatus) {
        switch (httpStatus) {
            case 400: return Code.INTERNAL;
            case 401: return Code.UNAUTHENTICATED;
            case 403: return Code.PERMISSION_DENIED;
            case 404: return Code.UNIMPLEMENTED;
            case 429: case 502: case 503: case 504: return Code.UNAVAILABLE;
            default: return Code.UNKNOWN;
        }
    }

    /** A non-negative decimal without sign, or -1. */
    private static int parseInt(String s) {
        if (s == null || s.isEmpty() || s.length() > 9) {
            return -1;
        }
        int v = 0;
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (ch < '0' || ch > '9') {
                return -1;
            }
            v = v * 10 + (ch - '0');
        }
        return v;
    }

    /** grpc-message is UTF-8, percent-encoded; broken escapes are kept as they are, as the spec allows. */
    static String percentDecode(String s) {
        boolean plain = true;
        for (int i = 0; i < s.length() && plain; i++) {
            char ch = s.charAt(i);
            plain = ch != '%' && ch < 0x80;
        }
        if (plain) {
            return s;
        }
        byte[] b = new byte[s.length()];
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (ch == '%' && i + 2 < s.length() && hex(s.charAt(i + 1)) >= 0 && hex(s.charAt(i + 2)) >= 0) {
                b[n++] = (byte) (hex(s.charAt(i + 1)) << 4 | hex(s.charAt(i + 2)));
                i += 2;
            } else {
                b[n++] = (byte) ch;   // the field's octets, as HPACK gave them
            }
        }
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }

    private static int hex(char ch) {
        if (ch >= '0' && ch <= '9') {
            return ch - '0';
        }
        if (ch >= 'A' && ch <= 'F') {
            return ch - 'A' + 10;
        }
        if (ch >= 'a' && ch <= 'f') {
            return ch - 'a' + 10;
        }
        return -1;
    }
}
