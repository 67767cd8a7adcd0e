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
 *     and refuse to start (exit 3) when an encrypted value cannot be decrypted; the release
 *     is read from the install path (.../ServiceManager9.41/Server/RUN): before 9.50 nothing
 *     is encrypted, as 9.4x does not, unknown counts as 9.50+;
 *   - the SSL parameters ssl, sslConnector, ssl_reqClientAuth (0/1/2), keystoreFile/Pass/
 *     Type, truststoreFile/Pass/Type, ssl_trustedClientsJKS/Pwd, sslEnabledProtocols,
 *     ciphers, trustedsignon, cacsignon, fipsmode, httpPort, httpsPort;
 *   - a plain HTTP listener and a JSSE HTTPS listener that enforces client authentication
 *     the way SM's levels are documented (level 2 = CA-signed AND listed in the
 *     trusted-clients keystore);
 *   - several servlets from the start file, as SM on Unix (<RUN>/smstart, a shell script) or
 *     Windows (<RUN>/sm.cfg) starts its processes: when the command line gives no port,
 *     smstart when it starts an `sm` process, else sm.cfg; every `sm` process with
 *     -httpPort:N and/or -httpsPort:N is a servlet with its own listeners (all in this one
 *     JVM, all with the same sm.ini settings and TLS set-up); processes without a port
 *     (background processes such as -que:, -sync) are not servlets;
 *   - the load balancer (-loadBalancer): HTTP only, every GET redirected (302) to the next
 *     servlet in turn, on HTTPS when SSL is on;
 *   - fipsmode:1: every store must be PKCS#12, and an OpenJDK JRE refuses to start, as the
 *     vendor documents;
 *   - loud, fatal start-up errors (exit 2) for unusable keystores and parameters.
 *
 * What it does NOT model:
 *   - no real SM protocol: no SOAP/REST web services, no Windows-client or web-tier
 *     protocol, no log-on, no sessions; every GET gets the same small text answer;
 *   - no database, no RDBMS login, no LDAP, no SMTP (sqllogin etc. are only encrypted);
 *   - not SM's real encryption algorithm: the scheme below (AES-256-GCM, key = SHA-256 of
 *     the smmasterkey hex string) is ours, so sm.ini files are NOT interchangeable with SM;
 *   - the JRE SM bundles is only emulated from RUN/jre/release (vendor and version): a Java
 *     without TLS 1.3 (see Jre) neither enables nor accepts TLSv1.3 in sslEnabledProtocols,
 *     as that JRE's JSSE would refuse it; the process itself still runs on this machine's Java;
 *   - no FIPS-certified crypto provider: fipsmode:1 only checks the stores and the vendor;
 *   - of the start file only the sm processes' ports and -loadBalancer: no separate processes
 *     (one JVM serves every servlet), smstart is not run (no variables, no conditions: every
 *     sm line counts), no background processes, the load balancer does not learn which
 *     servlets are up, other parameters on an sm line are ignored, and sm.ini's
 *     httpPort/httpsPort are not used by the start file's servlets;
 *   - no CAC or TSO log-on (trustedsignon is only reported back), no acceptsharedcert, no
 *     onewayssl4ws.
 *
 * Usage:  java -cp <dir> SmStandIn <RUN dir> [-httpPort:N] [-httpsPort:N] [-bind:ADDR]
 *                                   [-redirectHost:NAME] [-name:value ...]
 *    or:  java SmStandIn.java <RUN dir> ...
 * Ports on the command line make it one servlet on those ports, whatever the start file says.
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
                        + "[-httpPort:N] [-httpsPort:N] [-bind:ADDR] [-redirectHost:NAME] [-name:value ...]");
            }
        }
        if (runArg == null) {
            throw new Fatal("no RUN directory given. Usage: SmStandIn <RUN dir> "
                    + "[-httpPort:N] [-httpsPort:N] [-bind:ADDR] [-redirectHost:NAME] [-name:value ...]");
        }
        run = Paths.get(runArg).toAbsolutePath().normalize();
        if (!Files.isDirectory(run)) {
            throw new Fatal("RUN directory " + run + " does not exist or is not a directory");
        }
        info("TEST DOUBLE for the Service Manager server (not SM); RUN=" + run);

        release = release(run);
        info("release " + (release == null ? "unknown" : release));
        Path ini = run.resolve("sm.ini");
        if (Files.exists(ini)) {
            params.putAll(new SmIni(ini, encryptsPasswords(release)).process());
        } else {
            warn("no sm.ini in " + run + "; using command-line parameters only");
        }
        params.putAll(commandLine);

        fips = getInt("fipsmode", 0, 1, 0) == 1;
        if (fips && jre().vendor.equals("OpenJDK")) {
            // Vendor: "Service Manager does not support enabling FIPS mode with OpenJDK".
            throw new Fatal("fipsmode:1: FIPS mode is not supported on OpenJDK - the JRE in " + run.resolve("jre")
                    + " is an OpenJDK build (" + jre().vendorNamed + " in its release file); Service Manager"
                    + " does not support enabling FIPS mode with OpenJDK");
        }

        // SM on Unix starts from smstart, on Windows from sm.cfg; this double runs on Unix, so
        // smstart wins - unless it starts no sm process at all (then it is not SM's start file).
        if (!commandLine.containsKey("httpport") && !commandLine.containsKey("httpsport")) {
            StartFile chosen = null;
            Path smstart = run.resolve("smstart");
            if (Files.exists(smstart)) {
                StartFile f = readStartFile(smstart, true);
                chosen = f.processes > 0 ? f : null;
            }
            Path cfg = run.resolve("sm.cfg");
            if (chosen == null && Files.exists(cfg)) {
                chosen = readStartFile(cfg, false);
            }
            if (chosen != null && chosen.servlets.isEmpty()) {
                warn(chosen.label() + " starts no servlet (no 'sm' line with -httpPort or -httpsPort);"
                        + " using httpPort/httpsPort of sm.ini");
            } else if (chosen != null) {
                startFile = chosen;
                servlets.addAll(chosen.servlets);
            }
        }
        if (startFile == null) {
            servlets.add(new Servlet(1, 0, getInt("httpPort", 0, 65535), getInt("httpsPort", 0, 65535), false));
        } else {
            info("start file " + startFile.path);
        }

        configureAndListen();
    }

    // ------------------------------------------------------------------ release

    static final java.util.regex.Pattern RELEASE_DIR = java.util.regex.Pattern.compile(
            "(?:ServiceManager|Service Manager )(\\d+\\.\\d\\d)", java.util.regex.Pattern.CASE_INSENSITIVE);

    /** SM release, e.g. "9.61", or null when unknown. */
    String release;

    /**
     * The release the vendor's install path carries, e.g. /opt/MicroFocus/ServiceManager9.61/
     * Server/RUN or C:\Program Files\Micro Focus\Service Manager 9.41\Server\RUN: the
     * nearest ancestor of RUN named so.
     */
    static String release(Path run) {
        for (Path p = run.getParent(); p != null && p.getFileName() != null; p = p.getParent()) {
            java.util.regex.Matcher m = RELEASE_DIR.matcher(p.getFileName().toString());
            if (m.matches()) {
                return m.group(1);
            }
        }
        return null;
    }

    /** SM 9.50 and later encrypt sm.ini passwords at start, 9.4x does not; unknown: as 9.50+. */
    static boolean encryptsPasswords(String release) {
        return release == null
                || new java.math.BigDecimal(release).compareTo(new java.math.BigDecimal("9.50")) >= 0;
    }

    // ------------------------------------------------------------------ start file (smstart, sm.cfg)

    /** One servlet: an sm process of the start file, or the ports of the command line / sm.ini. */
    static final class Servlet {
        final int number;          // 1-based, in start-file order
        final int line;            // line of the start file, 0 without one
        final Integer httpPort;    // null: not given
        final Integer httpsPort;
        final boolean loadBalancer;
        ServerSocket http;
        SSLServerSocket https;

        Servlet(int number, int line, Integer httpPort, Integer httpsPort, boolean loadBalancer) {
            this.number = number;
            this.line = line;
            this.httpPort = httpPort;
            this.httpsPort = httpsPort;
            this.loadBalancer = loadBalancer;
        }
    }

    /** What a start file starts: its sm processes, and the servlets among them. */
    static final class StartFile {
        final Path path;
        final List<Servlet> servlets = new ArrayList<>();
        int processes;

        StartFile(Path path) {
            this.path = path;
        }

        /** "smstart /x/RUN/smstart": how messages name it. */
        String label() {
            return path.getFileName() + " " + path;
        }
    }

    /** The servlets as they run, in start-file order; one without a start file. */
    final List<Servlet> servlets = new ArrayList<>();
    /** The start file the servlets come from (listening lines and logs then name them), or null. */
    StartFile startFile;

    /**
     * The sm processes of smstart (shell = true) or sm.cfg, and the servlets among them: those
     * with -httpPort:N and/or -httpsPort:N (the load balancer's included). Other processes
     * (background ones such as `sm -que:ir`, `sm -sync`) are not servlets, other lines are
     * ignored, and so are parameters other than the ports and -loadBalancer.
     */
    static StartFile readStartFile(Path file, boolean shell) throws Fatal {
        StartFile found = new StartFile(file);
        List<String> lines;
        try {
            // Latin-1 never fails on a byte; the ports and names read here are ASCII.
            lines = Files.readAllLines(file, StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            throw new Fatal("cannot read " + file.getFileName() + " " + file + ": " + e);
        }
        Map<Integer, String> used = new LinkedHashMap<>();   // port -> "line N <name>"
        for (int i = 0; i < lines.size(); i++) {
            int number = i + 1;
            String text = lines.get(i);
            if (i == 0 && text.startsWith("\u00EF\u00BB\u00BF")) {   // a UTF-8 BOM read as Latin-1
                text = text.substring(3);
            }
            List<String> options = shell ? smstartOptions(text) : smCfgOptions(text);
            if (options == null) {
                continue;   // blank, a comment, or not the sm command
            }
            found.processes++;
            Integer http = null;
            Integer https = null;
            boolean balancer = false;
            for (String word : options) {
                if (!word.startsWith("-")) {
                    continue;
                }
                int c = word.indexOf(':');
                String name = (c < 0 ? word.substring(1) : word.substring(1, c)).toLowerCase(Locale.ROOT);
                if (name.equals("loadbalancer")) {
                    balancer = c < 0 || !word.substring(c + 1).trim().equals("0");   // -name means name:1
                }
                if (!name.equals("httpport") && !name.equals("httpsport")) {
                    continue;
                }
                int port = port(file, number, word, c < 0 ? "" : word.substring(c + 1));
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
                    throw new Fatal(found.label() + ": port " + ports[k] + " is used twice (" + before
                            + ", " + where + ") - every servlet needs its own ports");
                }
            }
            found.servlets.add(new Servlet(found.servlets.size() + 1, number, http, https, balancer));
        }
        return found;
    }

    /** The words after `sm` on an sm.cfg line (`#` starts a comment), or null for another line. */
    static List<String> smCfgOptions(String text) {
        int hash = text.indexOf('#');
        if (hash >= 0) {
            text = text.substring(0, hash);
        }
        String[] words = text.strip().split("\\s+");
        if (!words[0].equals("sm")) {
            return null;
        }
        return Arrays.asList(words).subList(1, words.length);
    }

    /** A shell word without its quotes; op: an unquoted control or redirection operator. */
    record Word(String text, boolean op) { }

    /**
     * The options of an sm process started by a line of smstart, or null when the line starts
     * none: `nohup`, `exec`, `env` and NAME=value before the command are skipped, the command's
     * basename must be `sm` (./sm, $RUN/sm, "${SMHOME}/RUN/sm"), and the options end at the
     * first operator (&, ;, |, a redirection). The script is not run: every such line counts.
     */
    static List<String> smstartOptions(String line) {
        List<Word> words = shellWords(line);
        int i = 0;
        while (i < words.size() && !words.get(i).op()
                && (Set.of("nohup", "exec", "env").contains(words.get(i).text())
                    || words.get(i).text().matches("[A-Za-z_][A-Za-z0-9_]*=.*"))) {
            i++;
        }
        if (i >= words.size() || words.get(i).op()) {
            return null;
        }
        String command = words.get(i).text();
        if (!command.substring(command.lastIndexOf('/') + 1).equals("sm")) {
            return null;
        }
        List<String> options = new ArrayList<>();
        for (i++; i < words.size() && !words.get(i).op(); i++) {
            options.add(words.get(i).text());
        }
        return options;
    }

    /**
     * A line split as the shell does, simply: whitespace separates words, '...' and "..."
     * quote (no expansion), a backslash escapes one character, an unquoted # at the start of a word
     * starts a comment, and unquoted &, ;, |, <, > are operators even when glued to a word
     * (-loadBalancer& is -loadBalancer then &; a digit before < or > belongs to it: 2>&1).
     */
    static List<Word> shellWords(String line) {
        List<Word> words = new ArrayList<>();
        StringBuilder word = null;
        boolean quoted = false;   // part of the current word was quoted: 2">" is no redirection
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            boolean operator = "&;|<>".indexOf(c) >= 0;
            if (Character.isWhitespace(c) || operator) {
                String text = word == null ? null : word.toString();
                word = null;
                if (operator) {
                    int end = i;
                    while (end < line.length() && "&;|<>".indexOf(line.charAt(end)) >= 0) {
                        end++;
                    }
                    boolean fd = text != null && !quoted && text.matches("\\d+") && (c == '<' || c == '>');
                    if (text != null && !fd) {
                        words.add(new Word(text, false));
                    }
                    words.add(new Word((fd ? text : "") + line.substring(i, end), true));
                    i = end - 1;
                } else if (text != null) {
                    words.add(new Word(text, false));
                }
                quoted = false;
                continue;
            }
            if (word == null) {
                if (c == '#') {
                    break;   // a comment: # at the start of a word
                }
                word = new StringBuilder();
            }
            if (c == '\'' || c == '"') {
                int end = line.indexOf(c, i + 1);
                end = end < 0 ? line.length() : end;   // unbalanced: the rest of the line
                word.append(line, i + 1, end);
                quoted = true;
                i = end;
            } else if (c == '\\' && i + 1 < line.length()) {
                word.append(line.charAt(++i));
                quoted = true;
            } else {
                word.append(c);
            }
        }
        if (word != null) {
            words.add(new Word(word.toString(), false));
        }
        return words;
    }

    static int port(Path file, int line, String word, String value) throws Fatal {
        try {
            int n = Integer.parseInt(value.trim());
            if (n >= 0 && n <= 65535) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new Fatal(file.getFileName() + " " + file + " line " + line + ": " + word
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
        final boolean encrypts;   // SM 9.50+ (or unknown); 9.4x only reads the file

        SmIni(Path path, boolean encrypts) {
            this.path = path;
            this.encrypts = encrypts;
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
            if (masterKey == null && encrypts) {
                byte[] k = new byte[32];
                RANDOM.nextBytes(k);
                masterKey = hex(k);
                generated = true;
            } else if (masterKey != null && masterKey.isEmpty()) {
                throw new Fatal(EXIT_MASTER_KEY, "sm.ini " + path + ": smmasterkey is empty; "
                        + "the server refuses to start");
            }
            byte[] aesKey = masterKey == null ? null : sha256(masterKey.getBytes(StandardCharsets.UTF_8));

            Map<String, String> values = new LinkedHashMap<>();
            int encryptedNow = 0;
            for (IniLine l : lines) {
                if (l.name == null) {
                    continue;
                }
                String value = l.value;
                if (l.encrypted) {
                    try {
                        if (aesKey == null) {
                            throw new GeneralSecurityException("no smmasterkey");
                        }
                        value = decrypt(l.value, aesKey);
                    } catch (GeneralSecurityException | IllegalArgumentException e) {
                        throw new Fatal(EXIT_MASTER_KEY, "sm.ini " + path + " line " + l.number
                                + ": cannot decrypt *" + l.name + " - "
                                + (generated || aesKey == null ? "the file has no smmasterkey line"
                                             : "smmasterkey is not the key this value was encrypted with")
                                + " (do not change or remove smmasterkey; to re-key, delete it and put every"
                                + " encrypted value back in plain text). The server refuses to start.");
                    }
                } else if (encrypts && SECRET_NAMES.contains(l.name.toLowerCase(Locale.ROOT)) && !value.isEmpty()) {
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
        if (fips) {
            // FIPS mode opens PKCS#12 only: the declared type (trusted clients: the file) and the file.
            String declared = typeParam == null ? detected : storeType(typeParam);
            String declaredAs = typeParam == null ? "" : typeParam + (get(typeParam) == null
                    ? " defaults to jks" : " is " + declared);
            if (!detected.equals("pkcs12")) {
                throw new Fatal("fipsmode:1 needs PKCS#12 stores: " + where + " is "
                        + detected.toUpperCase(Locale.ROOT) + (typeParam == null ? "" : " (" + declaredAs + ")")
                        + " - convert it (keytool -importkeystore -deststoretype pkcs12)"
                        + (typeParam == null ? "" : " and set " + typeParam + ":pkcs12"));
            }
            if (!declared.equals("pkcs12")) {
                throw new Fatal("fipsmode:1 needs PKCS#12 stores: " + where + " is PKCS12 but " + declaredAs
                        + " - set " + typeParam + ":pkcs12");
            }
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
    boolean sslOn;
    boolean fips;

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
        sslOn = ssl == 1 && (connector == null || connector != 0);
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
        if (servlets.stream().anyMatch(s -> s.loadBalancer)) {
            redirectHost = redirectHost();
        }

        // One SSL set-up for every servlet; every listener is bound before any is reported.
        SSLContext ctx = null;
        if (sslOn) {
            String ksWhere = String.valueOf(resolve(require("keystoreFile", "ssl:1 needs the server keystore")));
            ctx = buildContext(ksWhere);
        }
        for (Servlet s : servlets) {
            String servlet = startFile == null ? ""
                    : " for servlet " + s.number + " (" + startFile.path.getFileName() + " line " + s.line + ")";
            if (s.loadBalancer) {
                // The load balancer only redirects: HTTP whatever ssl says, its httpsPort unused.
                if (s.httpPort == null) {
                    warn("servlet " + s.number + ": the load balancer has no httpPort - no listener");
                }
            } else if (sslOn) {
                if (s.httpsPort == null) {
                    warn((startFile != null ? "servlet " + s.number + ": " : "")
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

        // Without a start file exactly the line of old (parsers rely on it); with one, one per
        // servlet, the load balancer's with a field appended (name=value: readers skip it).
        for (Servlet s : servlets) {
            info("listening" + (startFile != null ? " servlet=" + s.number : "")
                    + " http=" + (s.http == null ? "off" : Integer.toString(s.http.getLocalPort()))
                    + " https=" + (s.https == null ? "off" : Integer.toString(s.https.getLocalPort()))
                    + " clientAuth=" + clientAuth
                    + " protocols=" + (s.https == null ? "off" : String.join(",", s.https.getEnabledProtocols()))
                    + (s.loadBalancer ? " loadBalancer=1" : ""));
        }

        try {
            new CountDownLatch(1).await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static final java.util.regex.Pattern JAVA_VERSION = java.util.regex.Pattern
            .compile("(1\\.(\\d+)\\.\\d+(?:_(\\d+))?.*|(\\d+).*)");

    /** The JRE a real SM runs, from RUN/jre/release; emulated on this machine's Java. */
    static final class Jre {
        String version;          // JAVA_VERSION, null when not given
        String vendor;           // Oracle, IBM, OpenJDK or unknown
        String vendorNamed;      // how release names it, for messages
        boolean tls13 = true;    // without a version: this machine's Java, which has it

        /** "OpenJDK 1.8.0_262": for messages. */
        @Override
        public String toString() {
            return vendor + " " + version;
        }
    }

    Jre jre;

    /** RUN/jre/release, read once (vendor for fipsmode, TLS 1.3 for every listener). */
    Jre jre() {
        if (jre == null) {
            jre = readJre(run.resolve("jre").resolve("release"));
        }
        return jre;
    }

    /**
     * Vendor: BUILD_TYPE="commercial" or IMPLEMENTOR "Oracle Corporation" is Oracle, an
     * IMPLEMENTOR with IBM is IBM, any other IMPLEMENTOR (Eclipse Adoptium, Red Hat, Azul,
     * Amazon, ...) is an OpenJDK build. TLS 1.3: Java 11+; on Java 8 Oracle from 8u261
     * (JDK-8245485), OpenJDK from 8u272 (JDK-8248721), IBM's and unknown ones not; 9 and 10 not.
     */
    static Jre readJre(Path release) {
        Map<String, String> fields = new LinkedHashMap<>();
        try {
            for (String line : Files.readAllLines(release, StandardCharsets.UTF_8)) {
                int eq = line.indexOf('=');
                if (eq > 0) {
                    String value = line.substring(eq + 1).trim();
                    fields.put(line.substring(0, eq).trim(), value.replaceAll("^\"|\"$", ""));
                }
            }
        } catch (IOException e) {
            // no release file: nothing to emulate
        }
        Jre jre = new Jre();
        String implementor = fields.get("IMPLEMENTOR");
        String buildType = fields.get("BUILD_TYPE");
        if ("commercial".equals(buildType) || "Oracle Corporation".equals(implementor)) {
            jre.vendor = "Oracle";
        } else if (implementor != null && implementor.contains("IBM")) {
            jre.vendor = "IBM";
        } else if (implementor != null) {
            jre.vendor = "OpenJDK";
        } else {
            jre.vendor = "unknown";
        }
        jre.vendorNamed = implementor != null ? "IMPLEMENTOR=\"" + implementor + "\""
                : buildType != null ? "BUILD_TYPE=\"" + buildType + "\"" : "no IMPLEMENTOR";
        String version = fields.get("JAVA_VERSION");
        java.util.regex.Matcher m = JAVA_VERSION.matcher(version == null ? "" : version);
        if (m.matches()) {
            jre.version = version;
            int major = m.group(2) != null ? Integer.parseInt(m.group(2)) : Integer.parseInt(m.group(4));
            int update = m.group(3) != null ? Integer.parseInt(m.group(3)) : 0;
            int firstJava8 = jre.vendor.equals("Oracle") ? 261 : jre.vendor.equals("OpenJDK") ? 272 : -1;
            jre.tls13 = major >= 11 || (major == 8 && firstJava8 > 0 && update >= firstJava8);
        }
        return jre;
    }

    /** The emulated JRE when it has no TLS 1.3, else null. */
    Jre emulatedJreWithoutTls13() {
        return jre().tls13 ? null : jre();
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
        Jre emulated = emulatedJreWithoutTls13();
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

    // ------------------------------------------------------------------ load balancer

    /** Host the load balancer's Location names (-redirectHost, like -bind only the stand-in's). */
    String redirectHost;
    final AtomicInteger nextServlet = new AtomicInteger();

    String redirectHost() {
        String name = get("redirectHost");
        if (name == null || name.isEmpty()) {
            try {
                name = InetAddress.getLocalHost().getCanonicalHostName();
            } catch (IOException e) {
                warn("cannot tell this machine's host name (" + e.getMessage() + "); the load balancer "
                        + "redirects to localhost - give -redirectHost:NAME");
                name = "localhost";
            }
        }
        return name.contains(":") && !name.startsWith("[") ? "[" + name + "]" : name;   // an IPv6 literal
    }

    /**
     * Where the load balancer sends the next client: the servlets (not itself) in turn, on
     * HTTPS when SSL is on, else on HTTP; null when there is none to send to.
     */
    String[] redirect() {
        List<Servlet> targets = new ArrayList<>();
        for (Servlet s : servlets) {
            if (!s.loadBalancer && (sslOn ? s.https : s.http) != null) {
                targets.add(s);
            }
        }
        if (targets.isEmpty()) {
            return null;
        }
        Servlet t = targets.get(Math.floorMod(nextServlet.getAndIncrement(), targets.size()));
        int port = (sslOn ? t.https : t.http).getLocalPort();
        return new String[] {(sslOn ? "https" : "http") + "://" + redirectHost + ":" + port + "/",
                             Integer.toString(t.number)};
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

    /** "https", or "https servlet=2" when the servlets come from a start file: for the log. */
    String scheme(boolean tls, Servlet servlet) {
        return (tls ? "https" : "http") + (startFile != null ? " servlet=" + servlet.number : "");
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
            String result = "";
            if (!method.equals("GET") && !method.equals("HEAD")) {
                respond(out, 405, "Method Not Allowed", "sm-standin: only GET\n", false);
            } else if (servlet.loadBalancer) {
                String[] to = redirect();
                String body = "sm-standin loadbalancer\nservlet=" + servlet.number + "\n";
                if (to == null) {
                    respond(out, 503, "Service Unavailable", body + "error=no servlet to send to\n",
                            method.equals("HEAD"));
                    result = " -> 503 no servlet";
                } else {
                    respond(out, 302, "Found", body + "redirect=" + to[0] + "\n", method.equals("HEAD"),
                            "Location: " + to[0] + "\r\n");
                    result = " -> 302 servlet=" + to[1] + " " + to[0];
                }
            } else if (tls) {
                respond(out, 200, "OK", "server=sm-standin\nclient=" + client + "\ntrustedsignon="
                        + trustedSignOn + "\nprotocol=" + protocol + "\nservlet=" + servlet.number + "\n",
                        method.equals("HEAD"));
            } else {
                respond(out, 200, "OK", "sm-standin http\nservlet=" + servlet.number + "\n", method.equals("HEAD"));
            }
            info(scheme + " " + peer + " \"" + requestLine + "\""
                    + (tls ? " " + protocol + " client=" + client : "") + result);
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
        respond(out, code, reason, body, headOnly, "");
    }

    /** headers: more header lines, each ending in CRLF. */
    static void respond(OutputStream out, int code, String reason, String body, boolean headOnly, String headers)
            throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        String head = "HTTP/1.1 " + code + " " + reason + "\r\n" + headers
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
