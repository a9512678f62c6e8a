import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.AbstractHandler;

// The demo service of stasis: Jetty 9 and Jackson from Debian's packages,
// with in-memory state that a restore must keep.
//   GET /health        200 once started
//   GET /api/count     {"count":N,"pid":P,...}: N counts every call
//   GET /api/orders    a JSON document built and serialised per request (work for the JIT)
// Argument: PORT.
public class DemoService extends AbstractHandler {
    private final ObjectMapper json = new ObjectMapper();
    private final AtomicLong count = new AtomicLong();
    private final long started = System.currentTimeMillis();
    private volatile long lastPrint = started;

    public static void main(String[] args) throws Exception {
        long t0 = System.nanoTime();
        Server server = new Server();
        ServerConnector http = new ServerConnector(server);
        http.setHost("127.0.0.1");
        http.setPort(Integer.parseInt(args[0]));
        server.addConnector(http);
        server.setHandler(new DemoService());
        server.setStopAtShutdown(true);
        server.start();
        System.out.println("Started DemoService on port " + args[0] + " in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
    }

    @Override
    public void handle(String target, Request base, HttpServletRequest req, HttpServletResponse resp) throws IOException {
        base.setHandled(true);
        resp.setContentType("application/json");
        switch (target) {
            case "/health":
                resp.getWriter().write("{\"status\":\"ok\"}");
                return;
            case "/api/count": {
                long n = count.incrementAndGet();
                ObjectNode o = json.createObjectNode();
                o.put("count", n);
                o.put("pid", ProcessHandle.current().pid());
                o.put("uptime_ms", System.currentTimeMillis() - started);
                json.writeValue(resp.getOutputStream(), o);
                long now = System.currentTimeMillis();
                // Not every request (the warm-up sends thousands), but the first
                // ones, every thousandth, and the first after a quiet spell, such
                // as the first after a restore: its output goes on too.
                if (n <= 3 || n % 1000 == 0 || now - lastPrint > 100) {
                    System.out.println("count " + n);
                }
                lastPrint = now;
                return;
            }
            case "/api/orders":
                json.writeValue(resp.getOutputStream(), orders(count.get()));
                return;
            default:
                resp.setStatus(404);
                resp.getWriter().write("{\"error\":\"not found\"}");
        }
    }

    private static List<Map<String, Object>> orders(long seed) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            Map<String, Object> o = new TreeMap<>();
            o.put("id", seed * 100 + i);
            o.put("item", "item-" + (i * 7919 % 1000));
            o.put("quantity", i % 5 + 1);
            o.put("price", Math.round((i * 3.17 + seed % 13) * 100) / 100.0);
            out.add(o);
        }
        return out;
    }
}
