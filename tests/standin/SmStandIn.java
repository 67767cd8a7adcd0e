/*
 * SmStandIn - a TEST DOUBLE for the Micro Focus Service Manager (SM) server.
 *
 * SM is proprietary, so the smtls tests run against this stand-in instead of a real
 * SM server. It is not SM, and it is never shipped to hosts.
 *
 * What it models (see /work/shared/reference/service-manager-ssl.md, sections 1.2 and 1.3):
 *   - reading <RUN>/sm.ini (`name:value` lines; `*name:<hex>` = encrypted value) plus
 *     SM-style `-name:value` command-line parameters, which win over sm.ini;
 *   - SM 9.50+ style password handling at every start: insert a random `smmasterkey`
 *     as the first line when it is missing, encrypt plain-text credential lines in place,
 *     and refuse to start (exit 3) when an encrypted value cannot be decrypted;
 *   - the SSL parameters ssl, sslConnector, ssl_reqClientAuth (0/1/2), keystoreFile/Pass/
 *     Type, truststoreFile/Pass/Type, ssl_trustedClientsJKS/Pwd, sslEnabledProtocols,
 *     ciphers, trustedsignon, cacsignon, httpPort, httpsPort;
 *   - a plain HTTP listener and a JSSE HTTPS listener that enforces client authentication
 *     the way SM's levels are documented (level 2 = CA-signed AND listed in the
 *     trusted-clients keystore);
 *   - several servlets from <RUN>/sm.cfg: when it exists and the command line gives no port,
 *     every `sm` line with -httpPort:N and/or -httpsPort:N is a servlet with its own listeners
 *     (all in this one JVM, all with the same sm.ini settings and TLS set-up); lines without
 *     a port (background processes such as -que:, -sync) are not servlets;
 *   - loud, fatal start-up errors (exit 2) for unusable keystores and parameters.
 *
 * What it does NOT model:
 *   - no real SM protocol: no SOAP/REST web services, no Windows-client or web-tier
 *     protocol, no log-on, no sessions; every GET gets the same small text answer;
 *   - no database, no RDBMS login, no LDAP, no SMTP (sqllogin etc. are only encrypted);
 *   - not SM's real encryption algorithm: the scheme below (AES-256-GCM, key = SHA-256 of
 *     the smmasterkey hex string) is ours, so sm.ini files are NOT interchangeable with SM;
 *   - the JRE SM bundles is only emulated: when RUN/jre/release names a Java without TLS 1.3
 *     (8 before 8u261, 9, 10), TLSv1.3 is neither enabled nor accepted in sslEnabledProtocols,
 *     as that JRE's JSSE would refuse it; the process itself still runs on this machine's Java;
 *   - of sm.cfg only the servlets' ports: no separate processes (one JVM serves every servlet),
 *     no load balancing or redirection (-loadBalancer is a servlet like the others), no
 *     background processes, other parameters on an sm.cfg line are ignored, and sm.ini's
 *     httpPort/httpsPort are not used by sm.cfg's servlets;
 *   - no FIPS mode, no CAC or TSO log-on (trustedsignon is only reported back), no
 *     acceptsharedcert, no onewayssl4ws.
 *
 * Usage:  java -cp <dir> SmStandIn <RUN dir> [-httpPort:N] [-httpsPort:N] [-bind:ADDR] [-name:value ...]
 *    or:  java SmStandIn.java <RUN dir> ...
 * Ports on the command line make it one servlet on those ports, whatever sm.cfg says.
 * Exit status: 0 after SIGTERM/SIGINT, 2 start-up failure (FATAL), 3 an encrypted sm.ini
 * value cannot be decrypted (master key changed or missing).
 */

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.UnrecoverableKeyException;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.security.auth.x500.X500Principal;

public final class SmStandIn {

    static final String TAG = "sm-standin: ";
    static final int EXIT_STARTUP = 2;
    static final int EXIT_MASTER_KEY = 3;
    static final int IO_TIMEOUT_MS = 10_000;
    static final int MAX_REQUEST_HEAD = 64 * 1024;

    /** Credential parameters that SM 9.50+ encrypts at start (reference section 1.3). */
    static final Set<String> SECRET_NAMES = Set.of(
            "keystorepass", "truststorepass", "ssl_trustedclientspwd",
            "sqllogin", "ldapbindpass", "smtppassword",
            "changeencrkey", "upgradeencralg", "encryptionkey", "idmsigningkey");

    static final SecureRandom RANDOM = new SecureRandom();

    /** A start-up failure: message goes to stderr as "sm-standin: FATAL ...". */
    static final class Fatal extends Exception {
        private static final long serialVersionUID = 1L;
        final int status;

        Fatal(int status, String message) {
            super(message);
            this.status = status;
        }

        Fatal(String message) {
            this(EXIT_STARTUP, message);
        }
    }

    public static void main(String[] args) {
        try {
            new SmStandIn().start(args);
        } catch (Fatal f) {
            System.out.flush();
            System.err.println(TAG + "FATAL " + f.getMessage());
            System.err.flush();
            System.exit(f.status);
        }
    }

    static void info(String message) {
        System.out.println(TAG + message);
        System.out.flush();
    }

    static void warn(String message) {
        System.err.println(TAG + "WARNING " + message);
        System.err.flush();
    }

    // ------------------------------------------------------------------ parameters

    /** Effective parameters: lower-cased name -> value; command line over sm.ini. */
    final Map<String, String> params = new LinkedHashMap<>();
    Path run;

    String get(String name) {
        return params.get(name.toLowerCase(Locale.ROOT));
    }

    String get(String name, String fallback) {
        String v = get(name);
        return v == null || v.isEmpty() ? fallback : v;
    }

    String require(String name, String why) throws Fatal {
        String v = get(name);
        if (v == null || v.isEmpty()) {
            throw new Fatal("parameter " + name + " is not set; " + why);
        }
        return v;
    }

    Integer getInt(String name, int min, int max) throws Fatal {
        String v = get(name);
        if (v == null || v.isEmpty()) {
            return null;
        }
        try {
            int n = Integer.parseInt(v.trim());
            if (n < min || n > max) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new Fatal("parameter " + name + ":" + v + " is invalid (expected a number from "
                    + min + " to " + max + ")");
        }
    }

    int getInt(String name, int min, int max, int fallback) throws Fatal {
        Integer n = getInt(name, min, max);
        return n == null ? fallback : n;
    }

    Path resolve(String file) {
        Path p = Paths.get(file);
        return p.isAbsolute() ? p : run.resolve(p);
    }

    // ------------------------------------------------------------------ start-up

    void start(String[] args) throws Fatal {
        Map<String, String> commandLine = new LinkedHashMap<>();
        String runArg = null;
        for (String a : args) {
            if (a.startsWith("-") && a.length() > 1) {
                int c = a.indexOf(':');
                String name = c < 0 ? a.substring(1) : a.substring(1, c);
                String value = c < 0 ? "1" : a.substring(c + 1);   // SM flags like -loadBalancer
                commandLine.put(name.trim().toLowerCase(Locale.ROOT), value.trim());
            } else if (runArg == null) {
                runArg = a;
            } else {
                throw new Fatal("unexpected argument '" + a + "'. Usage: SmStandIn <RUN dir> "
                        + "[-httpPort:N] [-httpsPort:N] [-bind:ADDR] [-name:value ...]");
            }
        }
        if (runArg == null) {
            throw new Fatal("no RUN directory given. Usage: SmStandIn <RUN dir> "
                    + "[-httpPort:N] [-httpsPort:N] [-bind:ADDR] [-name:value ...]");
        }
        run = Paths.get(runArg).toAbsolutePath().normalize();
        if (!Files.isDirectory(run)) {
            throw new Fatal("RUN directory " + run + " does not exist or is not a directory");
        }
        info("TEST DOUBLE for the Service Manager server (not SM); RUN=" + run);

        Path ini = run.resolve("sm.ini");
        if (Files.exists(ini)) {
            params.putAll(new SmIni(ini).process());
        } else {
            warn("no sm.ini in " + run + "; using command-line parameters only");
        }
        params.putAll(commandLine);

        Path cfg = run.resolve("sm.cfg");
        if (Files.exists(cfg) && !commandLine.containsKey("httpport") && !commandLine.containsKey("httpsport")) {
            servlets.addAll(readSmCfg(cfg));
            if (servlets.isEmpty()) {
                warn("sm.cfg " + cfg + " starts no servlet (no 'sm' line with -httpPort or -httpsPort);"
                        + " using httpPort/httpsPort of sm.ini");
            }
        }
        fromSmCfg = !servlets.isEmpty();
        if (!fromSmCfg) {
            servlets.add(new Servlet(1, 0, getInt("httpPort", 0, 65535), getInt("httpsPort", 0, 65535)));
        }

        configureAndListen();
    }

    // ------------------------------------------------------------------ sm.cfg

    /** One servlet: a line of sm.cfg, or the ports of the command line / sm.ini without one. */
    static final class Servlet {
        final int number;          // 1-based, in sm.cfg order
        final int line;            // line of sm.cfg, 0 without sm.cfg
        final Integer httpPort;    // null: not given
        final Integer httpsPort;
        ServerSocket http;
        SSLServerSocket https;

        Servlet(int number, int line, Integer httpPort, Integer httpsPort) {
            this.number = number;
            this.line = line;
            this.httpPort = httpPort;
            this.httpsPort = httpsPort;
        }
    }

    /** The servlets as they run, in sm.cfg order; one when there is no sm.cfg. */
    final List<Servlet> servlets = new ArrayList<>();
    /** True when the servlets come from sm.cfg (listening lines and logs then name them). */
    boolean fromSmCfg;

    /**
     * The servlets of sm.cfg: `sm` lines with -httpPort:N and/or -httpsPort:N (the load
     * balancer's included). `#` starts a comment; other lines (background processes such as
     * `sm -que:ir`, `sm -sync`, other programs) are not servlets. Other parameters are ignored.
     */
    static List<Servlet> readSmCfg(Path cfg) throws Fatal {
        List<String> lines;
        try {
            // Latin-1 never fails on a byte; the ports and names read here are ASCII.
            lines = Files.readAllLines(cfg, StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            throw new Fatal("cannot read sm.cfg " + cfg + ": " + e);
        }
        List<Servlet> found = new ArrayList<>();
        Map<Integer, String> used = new LinkedHashMap<>();   // port -> "line N <name>"
        for (int i = 0; i < lines.size(); i++) {
            int number = i + 1;
            String text = lines.get(i);
            if (i == 0 && text.startsWith("\u00EF\u00BB\u00BF")) {   // a UTF-8 BOM read as Latin-1
                text = text.substring(3);
            }
            int hash = text.indexOf('#');
            if (hash >= 0) {
                text = text.substring(0, hash);
            }
            String[] words = text.strip().split("\\s+");
            if (words.length == 0 || !words[0].equals("sm")) {
                continue;   // blank, a comment, or not the sm command
            }
            Integer http = null;
            Integer https = null;
            for (int w = 1; w < words.length; w++) {
                String word = words[w];
                if (!word.startsWith("-")) {
                    continue;
                }
                int c = word.indexOf(':');
                String name = (c < 0 ? word.substring(1) : word.substring(1, c)).toLowerCase(Locale.ROOT);
                if (!name.equals("httpport") && !name.equals("httpsport")) {
                    continue;
                }
                int port = port(cfg, number, word, c < 0 ? "" : word.substring(c + 1));
                if (name.equals("httpport")) {
                    http = port;
                } else {
                    https = port;
                }
            }
            if (http == null && https == null) {
                continue;   // a background process, not a servlet
            }
            Integer[] ports = {http, https};
            String[] names = {"httpPort", "httpsPort"};
            for (int k = 0; k < ports.length; k++) {
                if (ports[k] == null || ports[k] == 0) {
                    continue;   // not given, or 0 = an ephemeral port
                }
                String where = "line " + number + " " + names[k];
                String before = used.putIfAbsent(ports[k], where);
                if (before != null) {
                    throw new Fatal("sm.cfg " + cfg + ": port " + ports[k] + " is used twice (" + before
                            + ", " + where + ") - every servlet needs its own ports");
                }
            }
            found.add(new Servlet(found.size() + 1, number, http, https));
        }
        return found;
    }

    static int port(Path cfg, int line, String word, String value) throws Fatal {
        try {
            int n = Integer.parseInt(value.trim());
            if (n >= 0 && n <= 65535) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new Fatal("sm.cfg " + cfg + " line " + line + ": " + word
                + " is not a port (expected a number from 0 to 65535)");
    }

    // ------------------------------------------------------------------ sm.ini

    /** One physical line of sm.ini; raw bytes are kept so untouched lines survive byte for byte. */
    static final class IniLine {
        byte[] raw;          // content without the line ending
        final String eol;    // "\n", "\r\n" or "" (last line without ending)
        final int number;    // 1-based line number in the original file, 0 for inserted lines
        String name;         // parameter name as written (without '*'), null if not a parameter
        String value;        // value as written (hex for encrypted lines)
        boolean encrypted;
        String replacement;  // new content when the line changes

        IniLine(byte[] raw, String eol, int number) {
            this.raw = raw;
            this.eol = eol;
            this.number = number;
        }
    }

    static final class SmIni {
        static final byte[] BOM = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};
        final Path path;

        SmIni(Path path) {
            this.path = path;
        }

        Map<String, String> process() throws Fatal {
            byte[] original;
            try {
                original = Files.readAllBytes(path);
            } catch (IOException e) {
                throw new Fatal("cannot read sm.ini " + path + ": " + e);
            }
            boolean bom = original.length >= 3 && original[0] == BOM[0] && original[1] == BOM[1]
                    && original[2] == BOM[2];
            List<IniLine> lines = split(original, bom ? 3 : 0);

            String firstEol = "\n";
            for (IniLine l : lines) {
                if (!l.eol.isEmpty()) {
                    firstEol = l.eol;
                    break;
                }
            }
            for (IniLine l : lines) {
                parse(l);
            }

            // Master key: the last plain smmasterkey line wins; generate one if absent.
            String masterKey = null;
            for (IniLine l : lines) {
                if (l.name != null && !l.encrypted && l.name.equalsIgnoreCase("smmasterkey")) {
                    masterKey = l.value;
                }
            }
            boolean generated = false;
            if (masterKey == null) {
                byte[] k = new byte[32];
                RANDOM.nextBytes(k);
                masterKey = hex(k);
                generated = true;
            } else if (masterKey.isEmpty()) {
                throw new Fatal(EXIT_MASTER_KEY, "sm.ini " + path + ": smmasterkey is empty; "
                        + "the server refuses to start");
            }
            byte[] aesKey = sha256(masterKey.getBytes(StandardCharsets.UTF_8));

            Map<String, String> values = new LinkedHashMap<>();
            int encryptedNow = 0;
            for (IniLine l : lines) {
                if (l.name == null) {
                    continue;
                }
                String value = l.value;
                if (l.encrypted) {
                    try {
                        value = decrypt(l.value, aesKey);
                    } catch (GeneralSecurityException | IllegalArgumentException e) {
                        throw new Fatal(EXIT_MASTER_KEY, "sm.ini " + path + " line " + l.number
                                + ": cannot decrypt *" + l.name + " - "
                                + (generated ? "the file has no smmasterkey line"
                                             : "smmasterkey is not the key this value was encrypted with")
                                + " (do not change or remove smmasterkey; to re-key, delete it and put every"
                                + " encrypted value back in plain text). The server refuses to start.");
                    }
                } else if (SECRET_NAMES.contains(l.name.toLowerCase(Locale.ROOT)) && !value.isEmpty()) {
                    l.replacement = "*" + l.name + ":" + encrypt(value, aesKey);
                    encryptedNow++;
                }
                values.put(l.name.toLowerCase(Locale.ROOT), value);
            }

            if (generated) {
                IniLine key = new IniLine(null, firstEol, 0);
                key.replacement = "smmasterkey:" + masterKey;
                lines.add(0, key);
            }
            if (generated || encryptedNow > 0) {
                ByteArrayOutputStream out = new ByteArrayOutputStream(original.length + 512);
                if (bom) {
                    out.writeBytes(BOM);
                }
                for (IniLine l : lines) {
                    out.writeBytes(l.replacement != null
                            ? l.replacement.getBytes(StandardCharsets.UTF_8) : l.raw);
                    out.writeBytes(l.eol.getBytes(StandardCharsets.US_ASCII));
                }
                if (rewrite(original, out.toByteArray())) {
                    info("sm.ini rewritten: " + (generated ? "smmasterkey added, " : "")
                            + encryptedNow + " value(s) encrypted");
                }
            }
            return values;
        }

        static List<IniLine> split(byte[] data, int from) {
            List<IniLine> lines = new ArrayList<>();
            int start = from;
            int number = 1;
            for (int i = from; i < data.length; i++) {
                if (data[i] == '\n') {
                    int end = i;
                    String eol = "\n";
                    if (end > start && data[end - 1] == '\r') {
                        end--;
                        eol = "\r\n";
                    }
                    lines.add(new IniLine(Arrays.copyOfRange(data, start, end), eol, number++));
                    start = i + 1;
                }
            }
            if (start < data.length) {
                lines.add(new IniLine(Arrays.copyOfRange(data, start, data.length), "", number));
            }
            return lines;
        }

        void parse(IniLine l) {
            String text = new String(l.raw, StandardCharsets.UTF_8).strip();
            if (text.isEmpty() || text.startsWith("#")) {
                return;
            }
            int colon = text.indexOf(':');
            if (colon < 0) {
                warn("sm.ini line " + l.number + " has no ':' and is ignored");
                return;
            }
            String name = text.substring(0, colon).strip();
            boolean encrypted = name.startsWith("*");
            if (encrypted) {
                name = name.substring(1).strip();
            }
            if (name.isEmpty()) {
                warn("sm.ini line " + l.number + " has no parameter name and is ignored");
                return;
            }
            l.name = name;
            l.encrypted = encrypted;
            l.value = text.substring(colon + 1).strip();
        }

        /** Atomic replace: temp file in the same directory, same permissions, then rename. */
        boolean rewrite(byte[] original, byte[] content) {
            Path target;
            Path tmp = null;
            try {
                target = path.toRealPath();   // follow a symlinked sm.ini, keep the link
                if (!Arrays.equals(Files.readAllBytes(target), original)) {
                    warn("sm.ini changed while the server was starting; not rewritten");
                    return false;
                }
                Path dir = target.getParent();
                tmp = Files.createTempFile(dir, ".sm.ini.", ".tmp");
                try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE,
                        StandardOpenOption.TRUNCATE_EXISTING)) {
                    ByteBuffer buf = ByteBuffer.wrap(content);
                    while (buf.hasRemaining()) {
                        ch.write(buf);
                    }
                    ch.force(true);
                }
                PosixFileAttributeView view = Files.getFileAttributeView(tmp, PosixFileAttributeView.class);
                if (view != null) {
                    PosixFileAttributes attrs = Files.readAttributes(target, PosixFileAttributes.class);
                    view.setPermissions(attrs.permissions());
                    try {
                        view.setGroup(attrs.group());
                        view.setOwner(attrs.owner());
                    } catch (IOException | SecurityException ignored) {
                        // not allowed for an unprivileged user; the permissions still match
                    }
                }
                try {
                    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE,
                            StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
                }
                tmp = null;
                return true;
            } catch (IOException | SecurityException e) {
                warn("could not rewrite sm.ini " + path + " (" + e + "); values stay as they are");
                return false;
            } finally {
                if (tmp != null) {
                    try {
                        Files.deleteIfExists(tmp);
                    } catch (IOException ignored) {
                        // best effort
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------ encryption (ours, not SM's)

    static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** hex( 12-byte random IV || AES-256-GCM ciphertext+tag ), no AAD. */
    static String encrypt(String plain, byte[] key) {
        try {
            byte[] iv = new byte[12];
            RANDOM.nextBytes(iv);
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, iv));
            byte[] ct = c.doFinal(plain.getBytes(StandardCharsets.UTF_8));
            byte[] all = new byte[iv.length + ct.length];
            System.arraycopy(iv, 0, all, 0, iv.length);
            System.arraycopy(ct, 0, all, iv.length, ct.length);
            return hex(all);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    static String decrypt(String hexValue, byte[] key) throws GeneralSecurityException {
        byte[] all = unhex(hexValue);
        if (all.length < 12 + 16) {
            throw new GeneralSecurityException("encrypted value too short");
        }
        Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
        c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, all, 0, 12));
        byte[] plain = c.doFinal(all, 12, all.length - 12);
        return new String(plain, StandardCharsets.UTF_8);
    }

    static String hex(byte[] b) {
        StringBuilder s = new StringBuilder(b.length * 2);
        for (byte x : b) {
            s.append(Character.forDigit((x >> 4) & 0xF, 16)).append(Character.forDigit(x & 0xF, 16));
        }
        return s.toString();
    }

    static byte[] unhex(String s) {
        if (s.length() % 2 != 0) {
            throw new IllegalArgumentException("odd-length hex");
        }
        byte[] out = new byte[s.length() / 2];
        for (int i = 0; i < out.length; i++) {
            int hi = Character.digit(s.charAt(2 * i), 16);
            int lo = Character.digit(s.charAt(2 * i + 1), 16);
            if (hi < 0 || lo < 0) {
                throw new IllegalArgumentException("not hex");
            }
            out[i] = (byte) ((hi << 4) | lo);
        }
        return out;
    }

    // ------------------------------------------------------------------ keystores

    /** "jks", "jceks", "pkcs12" from the file's first bytes, or null. */
    static String detectFormat(byte[] data) {
        if (data.length >= 4) {
            int magic = ((data[0] & 0xFF) << 24) | ((data[1] & 0xFF) << 16) | ((data[2] & 0xFF) << 8)
                    | (data[3] & 0xFF);
            if (magic == 0xFEEDFEED) {
                return "jks";
            }
            if (magic == 0xCECECECE) {
                return "jceks";
            }
            if ((data[0] & 0xFF) == 0x30) {
                return "pkcs12";
            }
        }
        return null;
    }

    String storeType(String typeParam) throws Fatal {
        String t = get(typeParam, "jks").trim().toLowerCase(Locale.ROOT);
        if (!t.equals("jks") && !t.equals("pkcs12")) {
            throw new Fatal("parameter " + typeParam + ":" + get(typeParam) + " is not supported (use jks or pkcs12)");
        }
        return t;
    }

    /**
     * Loads a keystore strictly: the file must exist, its format must match the declared type
     * (Java 17 would silently read either format; SM admins expect a type mismatch to fail),
     * and the password must be right.
     */
    KeyStore loadStore(String fileParam, String passParam, String typeParam, boolean passRequired)
            throws Fatal {
        String file = require(fileParam, "it names the " + describe(fileParam));
        Path path = resolve(file);
        String pass = get(passParam);
        if (passRequired && (pass == null || pass.isEmpty())) {
            throw new Fatal("parameter " + passParam + " is not set; it is the password of "
                    + fileParam + " " + path);
        }
        String where = fileParam + " " + path;
        byte[] data;
        try {
            data = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new Fatal("cannot open " + where + ": file does not exist");
        } catch (IOException e) {
            throw new Fatal("cannot open " + where + ": " + e);
        }
        String detected = detectFormat(data);
        if (detected == null || detected.equals("jceks")) {
            throw new Fatal("cannot open " + where + ": not a JKS or PKCS12 keystore"
                    + (detected == null ? "" : " (it is JCEKS)"));
        }
        if (typeParam != null) {
            String declared = storeType(typeParam);
            if (!declared.equals(detected)) {
                throw new Fatal("cannot open " + where + ": " + typeParam + " is " + declared
                        + " but the file is " + detected.toUpperCase(Locale.ROOT)
                        + (get(typeParam) == null ? " (" + typeParam + " defaults to jks)" : ""));
            }
        }
        try {
            KeyStore ks = KeyStore.getInstance(detected.equals("jks") ? "JKS" : "PKCS12");
            ks.load(new ByteArrayInputStream(data), pass == null ? null : pass.toCharArray());
            return ks;
        } catch (IOException e) {
            if (e.getCause() instanceof UnrecoverableKeyException
                    || String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT).contains("password")) {
                throw new Fatal("cannot open " + where + ": " + passParam + " is wrong (" + e.getMessage() + ")");
            }
            throw new Fatal("cannot open " + where + ": " + e);
        } catch (GeneralSecurityException e) {
            throw new Fatal("cannot open " + where + ": " + e);
        }
    }

    static String describe(String fileParam) {
        switch (fileParam) {
            case "keystoreFile":
                return "server keystore (private key and certificate)";
            case "truststoreFile":
                return "truststore (CA certificates that sign client certificates)";
            default:
                return "trusted-clients keystore (certificates of the clients allowed to connect)";
        }
    }

    static List<String> aliases(KeyStore ks) throws GeneralSecurityException {
        return Collections.list(ks.aliases());
    }

    // ------------------------------------------------------------------ SSL

    int clientAuth;
    String trustedSignOn = "0";

    SSLContext buildContext(String ksWhere) throws Fatal {
        try {
            // Server key and certificate.
            KeyStore ks = loadStore("keystoreFile", "keystorePass", "keystoreType", true);
            boolean hasKey = false;
            for (String a : aliases(ks)) {
                hasKey |= ks.isKeyEntry(a);
            }
            if (!hasKey) {
                throw new Fatal("keystoreFile " + ksWhere + " holds no private key entry "
                        + "(the server certificate with its key)");
            }
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            try {
                kmf.init(ks, get("keystorePass").toCharArray());
            } catch (UnrecoverableKeyException e) {
                throw new Fatal("keystoreFile " + ksWhere + ": the private key cannot be recovered with "
                        + "keystorePass (key password differs from the store password?): " + e.getMessage());
            }

            // Truststore: loaded whenever configured, required from level 1.
            TrustManager[] tms = null;
            if (get("truststoreFile") != null && !get("truststoreFile").isEmpty()) {
                KeyStore ts = loadStore("truststoreFile", "truststorePass", "truststoreType", false);
                int anchors = 0;
                for (String a : aliases(ts)) {
                    if (ts.isCertificateEntry(a)) {
                        anchors++;
                    }
                }
                if (anchors == 0) {
                    throw new Fatal("truststoreFile " + resolve(get("truststoreFile"))
                            + " holds no trusted CA certificate" + (get("truststorePass") == null
                            ? " (truststorePass is not set)" : ""));
                }
                TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(ts);
                tms = tmf.getTrustManagers();
            } else if (clientAuth >= 1) {
                throw new Fatal("ssl_reqClientAuth:" + clientAuth + " needs truststoreFile "
                        + "(the CA certificates that sign client certificates)");
            }

            if (clientAuth == 2) {
                if (get("ssl_trustedClientsJKS") == null || get("ssl_trustedClientsJKS").isEmpty()) {
                    throw new Fatal("ssl_reqClientAuth:2 needs ssl_trustedClientsJKS "
                            + "(the keystore listing the client certificates allowed to connect)");
                }
                KeyStore tc = loadStore("ssl_trustedClientsJKS", "ssl_trustedClientsPwd", null, false);
                Set<String> listed = new HashSet<>();
                for (String a : aliases(tc)) {
                    Certificate c = tc.getCertificate(a);
                    if (c != null) {
                        listed.add(Base64.getEncoder().encodeToString(c.getEncoded()));
                    }
                }
                if (listed.isEmpty()) {
                    throw new Fatal("ssl_trustedClientsJKS " + resolve(get("ssl_trustedClientsJKS"))
                            + " holds no certificate" + (get("ssl_trustedClientsPwd") == null
                            ? " (ssl_trustedClientsPwd is not set)" : ""));
                }
                X509ExtendedTrustManager base = null;
                for (TrustManager tm : tms) {
                    if (tm instanceof X509ExtendedTrustManager) {
                        base = (X509ExtendedTrustManager) tm;
                    }
                }
                tms = new TrustManager[] {new TrustedClientsTrustManager(base, listed)};
            }

            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), tms, null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new Fatal("cannot build the SSL context: " + e);
        }
    }

    /** Level 2: the normal PKIX check, then the leaf must be listed (DER equality). */
    static final class TrustedClientsTrustManager extends X509ExtendedTrustManager {
        private final X509ExtendedTrustManager delegate;
        private final Set<String> listed;

        TrustedClientsTrustManager(X509ExtendedTrustManager delegate, Set<String> listed) {
            this.delegate = delegate;
            this.listed = listed;
        }

        private void requireListed(X509Certificate[] chain) throws CertificateException {
            if (chain == null || chain.length == 0
                    || !listed.contains(Base64.getEncoder().encodeToString(chain[0].getEncoded()))) {
                throw new CertificateException("client not in trusted clients list"
                        + (chain == null || chain.length == 0 ? ""
                           : ": " + chain[0].getSubjectX500Principal().getName(X500Principal.RFC2253)));
            }
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            delegate.checkClientTrusted(chain, authType, socket);
            requireListed(chain);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            delegate.checkClientTrusted(chain, authType, engine);
            requireListed(chain);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            delegate.checkClientTrusted(chain, authType);
            requireListed(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            delegate.checkServerTrusted(chain, authType, socket);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            delegate.checkServerTrusted(chain, authType, engine);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            delegate.checkServerTrusted(chain, authType);
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return delegate.getAcceptedIssuers();
        }
    }

    static List<String> commaList(String v) {
        List<String> out = new ArrayList<>();
        if (v != null) {
            for (String s : v.split(",")) {
                if (!s.isBlank()) {
                    out.add(s.strip());
                }
            }
        }
        return out;
    }

    // ------------------------------------------------------------------ listeners

    final ExecutorService pool = Executors.newFixedThreadPool(8, daemonThreads("sm-standin-conn"));
    final List<ServerSocket> listeners = new ArrayList<>();

    static java.util.concurrent.ThreadFactory daemonThreads(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    void configureAndListen() throws Fatal {
        int ssl = getInt("ssl", 0, 1, 0);
        Integer connector = getInt("sslConnector", 0, 1);
        clientAuth = getInt("ssl_reqClientAuth", 0, 2, 0);
        int tso = getInt("trustedsignon", 0, 1, 0);
        trustedSignOn = Integer.toString(tso);
        if (getInt("cacsignon", 0, 1, 0) == 1) {
            // Documented: cacsignon:1 forces ssl:1, sslConnector:1 and ssl_reqClientAuth:1 (2 is honoured).
            ssl = 1;
            connector = 1;
            clientAuth = clientAuth == 2 ? 2 : 1;
            info("cacsignon:1 forces ssl:1 sslConnector:1 ssl_reqClientAuth:" + clientAuth);
        }
        boolean sslOn = ssl == 1 && (connector == null || connector != 0);
        if (ssl == 1 && !sslOn) {
            warn("ssl:1 but sslConnector:0 - no HTTPS connector is opened");
        }
        if (tso == 1 && !(sslOn && clientAuth == 2)) {
            warn("trustedsignon:1 needs ssl:1 and ssl_reqClientAuth:2 (SM 9.30+)");
        }

        String bindName = get("bind", "0.0.0.0");
        InetAddress bind;
        try {
            bind = InetAddress.getByName(bindName);
        } catch (IOException e) {
            throw new Fatal("bind address " + bindName + " cannot be resolved: " + e.getMessage());
        }

        // One SSL set-up for every servlet; every listener is bound before any is reported.
        SSLContext ctx = null;
        if (sslOn) {
            String ksWhere = String.valueOf(resolve(require("keystoreFile", "ssl:1 needs the server keystore")));
            ctx = buildContext(ksWhere);
        }
        for (Servlet s : servlets) {
            String servlet = fromSmCfg ? " for servlet " + s.number + " (sm.cfg line " + s.line + ")" : "";
            if (sslOn) {
                if (s.httpsPort == null) {
                    warn((fromSmCfg ? "servlet " + s.number + ": " : "")
                            + "SSL is on but httpsPort is not given - no HTTPS listener");
                } else {
                    try {
                        s.https = (SSLServerSocket) ctx.getServerSocketFactory().createServerSocket();
                        s.https.setReuseAddress(true);
                        applyTls(s.https, ctx);
                        s.https.bind(new InetSocketAddress(bind, s.httpsPort), 50);
                    } catch (IOException e) {
                        throw new Fatal("cannot listen on httpsPort " + s.httpsPort + " (" + bindName + ")"
                                + servlet + ": " + e.getMessage());
                    }
                }
            }
            if (s.httpPort != null) {
                try {
                    s.http = new ServerSocket();
                    s.http.setReuseAddress(true);
                    s.http.bind(new InetSocketAddress(bind, s.httpPort), 50);
                } catch (IOException e) {
                    throw new Fatal("cannot listen on httpPort " + s.httpPort + " (" + bindName + ")"
                            + servlet + ": " + e.getMessage());
                }
            }
        }

        for (Servlet s : servlets) {
            if (s.http != null) {
                acceptLoop(s.http, false, s);
            }
            if (s.https != null) {
                acceptLoop(s.https, true, s);
            }
        }

        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (ServerSocket s : listeners) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // closing anyway
                }
            }
            System.out.println(TAG + "stopping");
            System.out.flush();
            Runtime.getRuntime().halt(0);   // SIGTERM/SIGINT: clean exit with status 0
        }, "sm-standin-shutdown"));

        // Without sm.cfg exactly the line of old (parsers rely on it); with it one per servlet.
        for (Servlet s : servlets) {
            info("listening" + (fromSmCfg ? " servlet=" + s.number : "")
                    + " http=" + (s.http == null ? "off" : Integer.toString(s.http.getLocalPort()))
                    + " https=" + (s.https == null ? "off" : Integer.toString(s.https.getLocalPort()))
                    + " clientAuth=" + clientAuth
                    + " protocols=" + (s.https == null ? "off" : String.join(",", s.https.getEnabledProtocols())));
        }

        try {
            new CountDownLatch(1).await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static final java.util.regex.Pattern JAVA_VERSION = java.util.regex.Pattern
            .compile("^JAVA_VERSION=\"?(1\\.(\\d+)\\.\\d+(?:_(\\d+))?[^\"]*|(\\d+)[^\"]*)\"?\\s*$");

    /** RUN/jre/release, read once for every servlet's listener (see emulatedJreWithoutTls13). */
    boolean jreRead;
    String jreWithoutTls13;

    String emulatedJreWithoutTls13() {
        if (!jreRead) {
            jreWithoutTls13 = readJreWithoutTls13();
            jreRead = true;
        }
        return jreWithoutTls13;
    }

    /**
     * The version named by RUN/jre/release when that Java has no TLS 1.3 (8 before 8u261, 9,
     * 10), else null: the JRE a real SM runs, emulated on this machine's Java.
     */
    String readJreWithoutTls13() {
        Path release = run.resolve("jre").resolve("release");
        if (!Files.isRegularFile(release)) {
            return null;
        }
        try {
            for (String line : Files.readAllLines(release, StandardCharsets.UTF_8)) {
                java.util.regex.Matcher m = JAVA_VERSION.matcher(line.trim());
                if (!m.matches()) {
                    continue;
                }
                int major = m.group(2) != null ? Integer.parseInt(m.group(2)) : Integer.parseInt(m.group(4));
                int update = m.group(3) != null ? Integer.parseInt(m.group(3)) : 0;
                boolean tls13 = major >= 11 || (major == 8 && update >= 261);
                return tls13 ? null : m.group(1);
            }
        } catch (IOException e) {
            return null;
        }
        return null;
    }

    boolean protocolsWarned;

    void applyTls(SSLServerSocket s, SSLContext ctx) throws Fatal {
        if (clientAuth >= 1) {
            s.setNeedClientAuth(true);
        } else {
            s.setWantClientAuth(false);
            s.setNeedClientAuth(false);
        }
        List<String> protocols = commaList(get("sslEnabledProtocols"));
        String emulated = emulatedJreWithoutTls13();
        if (emulated != null && protocols.isEmpty()) {
            List<String> defaults = new ArrayList<>(Arrays.asList(s.getEnabledProtocols()));
            defaults.remove("TLSv1.3");
            s.setEnabledProtocols(defaults.toArray(new String[0]));
        }
        if (!protocols.isEmpty()) {
            List<String> supported = new ArrayList<>(Arrays.asList(ctx.getSupportedSSLParameters().getProtocols()));
            if (emulated != null) {
                supported.remove("TLSv1.3");
                if (protocols.contains("TLSv1.3")) {
                    throw new Fatal("sslEnabledProtocols: 'TLSv1.3' is not a protocol this Java supports "
                            + "(the JRE in " + run.resolve("jre") + " is " + emulated + ", without TLS 1.3)");
                }
            }
            for (String p : protocols) {
                if (!supported.contains(p)) {
                    throw new Fatal("sslEnabledProtocols: '" + p + "' is not a protocol this Java supports "
                            + supported);
                }
            }
            s.setEnabledProtocols(protocols.toArray(new String[0]));
            List<String> usable = Arrays.asList(ctx.getDefaultSSLParameters().getProtocols());
            if (protocols.stream().noneMatch(usable::contains) && !protocolsWarned) {
                protocolsWarned = true;   // once, not once per servlet
                warn("sslEnabledProtocols:" + get("sslEnabledProtocols") + " - none of these is enabled in "
                        + "this Java (jdk.tls.disabledAlgorithms); handshakes will fail");
            }
        }
        List<String> ciphers = commaList(get("ciphers"));
        if (!ciphers.isEmpty()) {
            List<String> supported = Arrays.asList(s.getSupportedCipherSuites());
            for (String c : ciphers) {
                if (!supported.contains(c)) {
                    throw new Fatal("ciphers: '" + c + "' is not a JSSE cipher suite name this Java supports");
                }
            }
            s.setEnabledCipherSuites(ciphers.toArray(new String[0]));
        }
    }

    void acceptLoop(ServerSocket server, boolean tls, Servlet servlet) {
        listeners.add(server);
        Thread t = new Thread(() -> {
            while (!server.isClosed()) {
                try {
                    Socket c = server.accept();
                    pool.execute(() -> handle(c, tls, servlet));
                } catch (IOException e) {
                    if (!server.isClosed()) {
                        warn(scheme(tls, servlet) + " accept failed: " + e);
                    }
                }
            }
        }, (tls ? "sm-standin-https-" : "sm-standin-http-") + servlet.number);
        t.setDaemon(true);
        t.start();
    }

    /** "https", or "https servlet=2" when the servlets come from sm.cfg: for the log. */
    String scheme(boolean tls, Servlet servlet) {
        return (tls ? "https" : "http") + (fromSmCfg ? " servlet=" + servlet.number : "");
    }

    void handle(Socket socket, boolean tls, Servlet servlet) {
        String peer = String.valueOf(socket.getRemoteSocketAddress());
        String scheme = scheme(tls, servlet);
        try (socket) {
            socket.setSoTimeout(IO_TIMEOUT_MS);
            String client = "none";
            String protocol = null;
            if (tls) {
                SSLSocket s = (SSLSocket) socket;
                try {
                    s.startHandshake();
                } catch (IOException e) {
                    warn(scheme + " " + peer + " TLS handshake failed: " + reasons(e));
                    return;
                }
                SSLSession session = s.getSession();
                protocol = session.getProtocol();
                try {
                    Certificate[] peerCerts = session.getPeerCertificates();
                    client = ((X509Certificate) peerCerts[0]).getSubjectX500Principal()
                            .getName(X500Principal.RFC2253);
                } catch (SSLPeerUnverifiedException e) {
                    client = "none";
                }
            }
            String requestLine = readRequestHead(socket.getInputStream());
            if (requestLine == null) {
                return;   // connected and left (port probe)
            }
            String method = requestLine.split(" ", 2)[0];
            OutputStream out = socket.getOutputStream();
            if (!method.equals("GET") && !method.equals("HEAD")) {
                respond(out, 405, "Method Not Allowed", "sm-standin: only GET\n", false);
            } else if (tls) {
                respond(out, 200, "OK", "server=sm-standin\nclient=" + client + "\ntrustedsignon="
                        + trustedSignOn + "\nprotocol=" + protocol + "\nservlet=" + servlet.number + "\n",
                        method.equals("HEAD"));
            } else {
                respond(out, 200, "OK", "sm-standin http\nservlet=" + servlet.number + "\n", method.equals("HEAD"));
            }
            info(scheme + " " + peer + " \"" + requestLine + "\""
                    + (tls ? " " + protocol + " client=" + client : ""));
        } catch (SocketTimeoutException e) {
            warn(scheme + " " + peer + " timed out");
        } catch (SSLException e) {
            warn(scheme + " " + peer + " TLS error: " + reasons(e));
        } catch (IOException | RuntimeException e) {
            warn(scheme + " " + peer + " " + reasons(e));
        }
    }

    /** Reads up to the blank line that ends the request head; returns the request line. */
    static String readRequestHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int state = 0;   // counts the bytes of "\r\n\r\n" / "\n\n" seen
        int b;
        while ((b = in.read()) != -1) {
            head.write(b);
            if (head.size() > MAX_REQUEST_HEAD) {
                throw new IOException("request head too large");
            }
            if (b == '\n') {
                state++;
                if (state == 2) {
                    break;
                }
            } else if (b != '\r') {
                state = 0;
            }
        }
        if (head.size() == 0) {
            return null;
        }
        String text = head.toString(StandardCharsets.ISO_8859_1);
        int end = text.indexOf('\n');
        return (end < 0 ? text : text.substring(0, end)).strip();
    }

    static void respond(OutputStream out, int code, String reason, String body, boolean headOnly)
            throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        String head = "HTTP/1.1 " + code + " " + reason + "\r\n"
                + "Content-Type: text/plain; charset=utf-8\r\n"
                + "Content-Length: " + b.length + "\r\n"
                + "Connection: close\r\n"
                + "Server: sm-standin\r\n\r\n";
        out.write(head.getBytes(StandardCharsets.US_ASCII));
        if (!headOnly) {
            out.write(b);
        }
        out.flush();
    }

    static String reasons(Throwable t) {
        StringBuilder s = new StringBuilder();
        Set<Throwable> seen = new HashSet<>();
        for (Throwable c = t; c != null && seen.add(c); c = c.getCause()) {
            if (s.length() > 0) {
                s.append(" <- ");
            }
            s.append(c.getClass().getSimpleName()).append(": ").append(c.getMessage());
        }
        return s.toString();
    }
}
