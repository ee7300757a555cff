package dev.berth.cli.rpc;

import java.io.IOException;

/**
 * A connection error (RFC 9113 5.4.1): the peer broke HTTP/2 or HPACK, so the connection is answered with GOAWAY
 * carrying {@link #errorCode} and closed. Also holds the HTTP/2 error code values.
 */
final class Http2Exception extends IOException {

    private static final long serialVersionUID = 1L;

    static final int NO_ERROR = 0x0;
    static final int PROTOCOL_ERROR = 0x1;
    static final int INTERNAL_ERROR = 0x2;
    static final int FLOW_CONTROL_ERROR = 0x3;
    static final int SETTINGS_TIMEOUT = 0x4;
    static final int STREAM_CLOSED = 0x5;
    static final int FRAME_SIZE_ERROR = 0x6;
    static final int REFUSED_STREAM = 0x7;
    static final int CANCEL = 0x8;
    static final int COMPRESSION_ERROR = 0x9;
    static final int CONNECT_ERROR = 0xa;
    static final int ENHANCE_YOUR_CALM = 0xb;
    static final int INADEQUATE_SECURITY = 0xc;
    static final int HTTP_1_1_REQUIRED = 0xd;

    final int errorCode;

    Http2Exception(int errorCode, String message) {
        super(message);
        this.errorCode = errorCode;
    }

    static String name(int errorCode) {
        switch (errorCode) {
            case NO_ERROR: return "NO_ERROR";
            case PROTOCOL_ERROR: return "PROTOCOL_ERROR";
            case INTERNAL_ERROR: return "INTERNAL_ERROR";
            case FLOW_CONTROL_ERROR: return "FLOW_CONTROL_ERROR";
            case SETTINGS_TIMEOUT: return "SETTINGS_TIMEOUT";
            case STREAM_CLOSED: return "STREAM_CLOSED";
            case FRAME_SIZE_ERROR: return "FRAME_SIZE_ERROR";
            case REFUSED_STREAM: return "REFUSED_STREAM";
            case CANCEL: return "CANCEL";
            case COMPRESSION_ERROR: return "COMPRESSION_ERROR";
            case CONNECT_ERROR: return "CONNECT_ERROR";
            case ENHANCE_YOUR_CALM: return "ENHANCE_YOUR_CALM";
            case INADEQUATE_SECURITY: return "INADEQUATE_SECURITY";
            case HTTP_1_1_REQUIRED: return "HTTP_1_1_REQUIRED";
            default: return "error code 0x" + Integer.toHexString(errorCode);
        }
    }

    /** The gRPC code a RST_STREAM from the server means, per the table in gRPC's PROTOCOL-HTTP2 doc. */
    static Code grpcCode(int errorCode) {
        switch (errorCode) {
            case REFUSED_STREAM: return Code.UNAVAILABLE;
            case CANCEL: return Code.CANCELLED;
            case ENHANCE_YOUR_CALM: return Code.RESOURCE_EXHAUSTED;
            case INADEQUATE_SECURITY: return Code.PERMISSION_DENIED;
            default: return Code.INTERNAL;
        }
    }
}
