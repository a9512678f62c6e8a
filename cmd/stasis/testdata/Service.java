import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicLong;

// The real JVM of stasis's checkpoint and restore tests: an HTTP service with
// an in-memory counter. Arguments: PORT [TICK_MS]. GET /count increments and
// returns the counter and prints "request N"; GET /exit?code=N exits with N;
// with TICK_MS > 0 it also prints "tick N" every TICK_MS milliseconds.
public class Service {
    public static void main(String[] args) throws Exception {
        long t0 = System.nanoTime();
        AtomicLong count = new AtomicLong();
        int port = Integer.parseInt(args[0]);
        long tick = args.length > 1 ? Long.parseLong(args[1]) : 0;
        HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 64);
        s.createContext("/count", ex -> {
            long n = count.incrementAndGet();
            byte[] b = (n + "\n").getBytes();
            ex.sendResponseHeaders(200, b.length);
            ex.getResponseBody().write(b);
            ex.close();
            System.out.println("request " + n);
        });
        s.createContext("/exit", ex -> {
            String q = ex.getRequestURI().getQuery();
            int code = Integer.parseInt(q.substring(q.indexOf('=') + 1));
            ex.sendResponseHeaders(200, -1);
            ex.close();
            System.exit(code);
        });
        s.start();
        System.out.println("Started in " + (System.nanoTime() - t0) / 1000000 + " ms");
        for (long i = 1; tick > 0; i++) {
            System.out.println("tick " + i);
            Thread.sleep(tick);
        }
    }
}
