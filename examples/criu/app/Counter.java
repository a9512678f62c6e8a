// Counter is the demo service of stasis's examples and Docker end-to-end test: a JDK-only HTTP
// server (com.sun.net.httpserver, no dependencies) whose state lives in memory, so a restored
// container that answers with the next number proves the heap came back with it.
//
//   GET /count   adds one to the counter, answers the new value and logs a line
//   GET /health  answers "ok" without touching the counter or the log, so health checks and
//                readiness probes neither change the state nor flood `docker logs`
//
// Environment: PORT (default 8080).
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

public final class Counter {
    private static final AtomicLong count = new AtomicLong();

    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "8080"));
        // A JVM ends with status 143 on SIGTERM after running its shutdown hooks; the hook only
        // says so, which is what the end-to-end test looks for in `docker logs`.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> System.out.println("got SIGTERM")));

        HttpServer server = HttpServer.create(new InetSocketAddress(port), 64);
        server.createContext("/count", Counter::count);
        server.createContext("/health", ex -> reply(ex, 200, "ok\n"));
        server.createContext("/", ex -> reply(ex, 404, "not found\n"));
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.start();

        Instant launched = ProcessHandle.current().info().startInstant().orElse(Instant.now());
        long ms = Duration.between(launched, Instant.now()).toMillis();
        System.out.printf("Started in %d ms (pid %d, port %d)%n", ms, ProcessHandle.current().pid(), port);
    }

    private static void count(HttpExchange ex) throws IOException {
        long n = count.incrementAndGet();
        System.out.printf("request %s %s -> %d%n", ex.getRequestMethod(), ex.getRequestURI(), n);
        reply(ex, 200, n + "\n");
    }

    private static void reply(HttpExchange ex, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }
}
