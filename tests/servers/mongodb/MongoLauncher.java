// The MongoDB test server (scripts/services/mongodb.sh): mongo-java-server's memory backend on
// 127.0.0.1, on a port the OS picks at bind time (no window between choosing a free port and
// binding it). Writes the port to the file named by the first argument once it listens, then
// runs until killed. Java 11+ source launch: java -cp "$CP" MongoLauncher.java PORTFILE
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

public class MongoLauncher {
    public static void main(String[] args) throws IOException, InterruptedException {
        if (args.length != 1) {
            System.err.println("usage: MongoLauncher PORTFILE");
            System.exit(2);
        }
        MongoServer server = new MongoServer(new MemoryBackend());
        server.bind(new InetSocketAddress("127.0.0.1", 0));
        int port = server.getLocalAddress().getPort();
        // Written beside, then renamed: a reader never sees a half-written port.
        Path target = Path.of(args[0]);
        Path tmp = Path.of(args[0] + ".tmp");
        Files.writeString(tmp, port + "\n");
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        System.out.println("mongo-java-server listening on 127.0.0.1:" + port);
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        Thread.currentThread().join();
    }
}
