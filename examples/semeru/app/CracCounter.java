// CracCounter is examples/criu's Counter with a checkpoint of its own, through org.crac, the
// portable CRaC API: it starts the service, warms it up by calling itself, and checkpoints. On a
// JVM started with -XX:CRaCCheckpointTo (Semeru/OpenJ9 in CRaC mode, or a CRaC JDK such as Zulu)
// the process is dumped there; a restore resumes right after checkpointRestore(). Nothing in it
// knows about stasis.
//
// Environment: PORT (default 8080), WARMUP_REQUESTS (default 500).
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

import org.crac.Core;

public final class CracCounter {
    public static void main(String[] args) throws Exception {
        Counter.main(args);
        String port = System.getenv().getOrDefault("PORT", "8080");
        int requests = Integer.parseInt(System.getenv().getOrDefault("WARMUP_REQUESTS", "500"));
        HttpClient client = HttpClient.newHttpClient();
        HttpRequest warm = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/count")).build();
        for (int i = 0; i < requests; i++) {
            client.send(warm, HttpResponse.BodyHandlers.discarding());
        }
        client = null; // no open connection may be left at the checkpoint
        System.gc();
        Core.checkpointRestore();
        System.out.println("restored");
    }
}
