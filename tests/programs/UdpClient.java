import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;

/** A Java UDP client: `new DatagramSocket()` binds port 0, then sends to 127.0.0.1:5432. */
public class UdpClient {
    public static void main(String[] args) throws Exception {
        try (DatagramSocket socket = new DatagramSocket()) {
            System.out.println("bound: " + (socket.getLocalPort() > 0));
            byte[] query = "query".getBytes();
            socket.send(new DatagramPacket(query, query.length, InetAddress.getByName("127.0.0.1"), 5432));
            System.out.println("sent: yes");
        } catch (Exception e) {
            System.out.println("failed: " + e);
        }
        System.out.println("done: yes");
    }
}
