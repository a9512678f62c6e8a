// LogReady is a stand-in for a Java service in the triggers tests.
//   java LogReady ready MILLIS  logs, waits MILLIS, prints a "Started" line, then idles
//   java LogReady fail          logs an error and exits 1 without ever being ready
public class LogReady {
    public static void main(String[] args) throws Exception {
        System.err.println("LogReady booting, pid " + ProcessHandle.current().pid());
        if (args.length > 0 && args[0].equals("fail")) {
            System.err.println("Error: port 8080 already in use");
            System.exit(1);
        }
        long millis = args.length > 1 ? Long.parseLong(args[1]) : 0;
        Thread.sleep(millis);
        System.out.println("Started LogReady in " + (millis / 1000.0) + " seconds (JVM running)");
        System.out.flush();
        Thread.sleep(60_000);
    }
}
