// Test helper (not shipped to hosts): proves keystores with the real JSSE.
//   list <file> <type>            - load with KS_PASSWORD, print one line per entry:
//                                   alias|kind|sha256(leaf)|chain_length|key_matches
//   handshake <server-ks> <type> <trust-ks> <type>
//                                 - TLS server on 127.0.0.1 with the first keystore,
//                                   client trusting the second; prints the negotiated
//                                   protocol and the peer leaf sha256.
// Passwords come from KS_PASSWORD / TRUST_PASSWORD, never from argv.
import java.io.*;
import java.net.*;
import java.security.*;
import java.security.cert.Certificate;
import java.util.*;
import javax.net.ssl.*;

public class KeystoreCheck {
    static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) s.append(String.format("%02x", x));
        return s.toString();
    }

    static char[] pw(String env) {
        String v = System.getenv(env);
        return v == null ? null : v.toCharArray();
    }

    static KeyStore load(String file, String type, char[] password) throws Exception {
        KeyStore ks = KeyStore.getInstance(type);
        try (InputStream in = new FileInputStream(file)) { ks.load(in, password); }
        return ks;
    }

    public static void main(String[] args) throws Exception {
        if (args[0].equals("list")) {
            char[] password = pw("KS_PASSWORD");
            KeyStore ks = load(args[1], args[2], password);
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (String alias : Collections.list(ks.aliases())) {
                if (ks.isKeyEntry(alias)) {
                    Certificate[] chain = ks.getCertificateChain(alias);
                    Key key = ks.getKey(alias, password);
                    boolean matches = key != null && matchesKey((PrivateKey) key, chain[0].getPublicKey());
                    System.out.println(alias + "|private_key|" + hex(sha.digest(chain[0].getEncoded()))
                        + "|" + chain.length + "|" + matches);
                } else {
                    Certificate c = ks.getCertificate(alias);
                    System.out.println(alias + "|trusted_cert|" + hex(sha.digest(c.getEncoded())) + "|1|-");
                }
            }
        } else if (args[0].equals("handshake")) {
            handshake(args[1], args[2], args[3], args[4]);
        } else {
            throw new IllegalArgumentException("unknown command " + args[0]);
        }
    }

    // Sign and verify a probe message: proves the private key belongs to the certificate.
    static boolean matchesKey(PrivateKey key, PublicKey pub) throws Exception {
        String alg = key.getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
        Signature s = Signature.getInstance(alg);
        s.initSign(key);
        s.update("smtls".getBytes());
        byte[] sig = s.sign();
        Signature v = Signature.getInstance(alg);
        v.initVerify(pub);
        v.update("smtls".getBytes());
        return v.verify(sig);
    }

    static void handshake(String serverKs, String serverType, String trustKs, String trustType) throws Exception {
        char[] password = pw("KS_PASSWORD");
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(load(serverKs, serverType, password), password);
        SSLContext serverCtx = SSLContext.getInstance("TLS");
        serverCtx.init(kmf.getKeyManagers(), null, null);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(load(trustKs, trustType, pw("TRUST_PASSWORD")));
        SSLContext clientCtx = SSLContext.getInstance("TLS");
        clientCtx.init(null, tmf.getTrustManagers(), null);
        try (SSLServerSocket server = (SSLServerSocket) serverCtx.getServerSocketFactory()
                .createServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Thread t = new Thread(() -> {
                try (SSLSocket s = (SSLSocket) server.accept()) {
                    s.startHandshake();
                    s.getOutputStream().write(1);
                } catch (IOException e) { /* the client reports the failure */ }
            });
            t.start();
            try (SSLSocket c = (SSLSocket) clientCtx.getSocketFactory()
                    .createSocket(InetAddress.getLoopbackAddress(), server.getLocalPort())) {
                SSLParameters p = c.getSSLParameters();
                c.setSSLParameters(p);
                c.startHandshake();
                c.getInputStream().read();
                Certificate leaf = c.getSession().getPeerCertificates()[0];
                System.out.println(c.getSession().getProtocol() + "|"
                    + hex(MessageDigest.getInstance("SHA-256").digest(leaf.getEncoded())));
            }
            t.join();
        }
    }
}
