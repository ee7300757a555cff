package dev.berth.oci.auth;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * An HTTP proxy on loopback that tunnels every {@code CONNECT} to one local port, so that a registry on loopback
 * can be reached under a name that is not loopback ({@code registry.berth.test}), TLS end to end and the name
 * checked against its certificate. A plain-HTTP request through it is refused with 502. It records the request
 * line of each: {@code CONNECT host:443 ...} is TLS, {@code GET http://...} would be plain HTTP.
 */
final class ConnectTunnel implements AutoCloseable {

    final List<String> seen = new CopyOnWriteArrayList<>();
    private final ServerSocket server;
    private final int target;
    private final List<Socket> open = new CopyOnWriteArrayList<>();

    private ConnectTunnel(ServerSocket server, int target) {
        this.server = server;
        this.target = target;
    }

    static ConnectTunnel to(int loopbackPort) throws IOException {
        ConnectTunnel t = new ConnectTunnel(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()), loopbackPort);
        Thread accept = new Thread(t::acceptLoop, "connect-tunnel");
        accept.setDaemon(true);
        accept.start();
        return t;
    }

    /** Every request, HTTP or HTTPS, to this proxy: nothing reaches a real network. */
    ProxySelector selector() {
        InetSocketAddress addr = new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort());
        return new ProxySelector() {
            @Override
            public List<Proxy> select(URI uri) {
                return List.of(new Proxy(Proxy.Type.HTTP, addr));
            }

            @Override
            public void connectFailed(URI uri, SocketAddress sa, IOException ioe) {
                // the test asserts on outcomes
            }
        };
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                open.add(client);
                Thread t = new Thread(() -> serve(client), "connect-tunnel-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException closed) {
                return;
            }
        }
    }

    private void serve(Socket client) {
        try {
            InputStream in = client.getInputStream();
            OutputStream out = client.getOutputStream();
            String head = readHead(in);
            String requestLine = head.lines().findFirst().orElse("");
            seen.add(requestLine);
            if (!requestLine.startsWith("CONNECT ")) {
                out.write("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                client.close();
                return;
            }
            Socket upstream = new Socket(InetAddress.getLoopbackAddress(), target);
            open.add(upstream);
            out.write("HTTP/1.1 200 Connection Established\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            Thread back = new Thread(() -> pump(upstream, client), "connect-tunnel-back");
            back.setDaemon(true);
            back.start();
            pump(client, upstream);
        } catch (IOException e) {
            close(client);
        }
    }

    /** The request line and headers, byte by byte so that nothing after them is consumed. */
    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) >= 0) {
            head.write(b);
            byte[] h = head.toByteArray();
            int n = h.length;
            if (n >= 4 && h[n - 4] == '\r' && h[n - 3] == '\n' && h[n - 2] == '\r' && h[n - 1] == '\n') break;
            if (n > 16384) throw new IOException("request head too long");
        }
        return head.toString(StandardCharsets.US_ASCII);
    }

    private static void pump(Socket from, Socket to) {
        try {
            from.getInputStream().transferTo(to.getOutputStream());
            to.shutdownOutput();
        } catch (IOException e) {
            close(from);
            close(to);
        }
    }

    private static void close(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : open) close(s);
    }
}
