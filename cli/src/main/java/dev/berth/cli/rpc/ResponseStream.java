package dev.berth.cli.rpc;

import java.util.Iterator;

/**
 * The responses of a call as they come. hasNext() blocks; an error status is thrown (RpcException) from
 * hasNext()/next() once the messages received before it have been taken. close() cancels the call if it has not
 * ended (RST_STREAM CANCEL).
 */
public interface ResponseStream<T> extends Iterator<T>, AutoCloseable {
    @Override
    void close();
}
