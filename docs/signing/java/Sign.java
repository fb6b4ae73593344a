// Signing a channel API request in Java (17+), with the JDK only.
//
//   java Sign.java [path/to/test-vectors.json]   checks this code against every published test vector
//
// Use signHmac / signRsa in your client; the JSON reader at the bottom only reads the vectors file
// (your project will have Jackson or Gson for that).
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public class Sign {
    /** METHOD \n PATH_WITH_QUERY \n TIMESTAMP \n NONCE \n hex(sha256(body)); the path and query exactly as sent. */
    static String stringToSign(String method, String pathWithQuery, String timestamp, String nonce, byte[] body)
            throws Exception {
        String bodyHash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));
        return String.join("\n", method.toUpperCase(), pathWithQuery, timestamp, nonce, bodyHash);
    }

    static String signHmac(String secret, String method, String pathWithQuery, String timestamp, String nonce,
                           byte[] body) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        byte[] raw = mac.doFinal(stringToSign(method, pathWithQuery, timestamp, nonce, body)
                .getBytes(StandardCharsets.UTF_8));
        return Base64.getEncoder().encodeToString(raw);
    }

    /** SHA256withRSA (RSASSA-PKCS1-v1_5, Alipay's RSA2) with a PKCS#8 private key. */
    static String signRsa(PrivateKey key, String method, String pathWithQuery, String timestamp, String nonce,
                          byte[] body) throws Exception {
        Signature signer = Signature.getInstance("SHA256withRSA");
        signer.initSign(key);
        signer.update(stringToSign(method, pathWithQuery, timestamp, nonce, body).getBytes(StandardCharsets.UTF_8));
        return Base64.getEncoder().encodeToString(signer.sign());
    }

    static byte[] pemBody(String pem) {
        return Base64.getMimeDecoder().decode(pem.replaceAll("-----[A-Z ]+-----", ""));
    }

    static PrivateKey privateKey(String pkcs8Pem) throws Exception {
        return KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(pemBody(pkcs8Pem)));
    }

    static PublicKey publicKey(String spkiPem) throws Exception {
        return KeyFactory.getInstance("RSA").generatePublic(new X509EncodedKeySpec(pemBody(spkiPem)));
    }

    @SuppressWarnings("unchecked")
    public static void main(String[] args) throws Exception {
        Path file = Path.of(args.length > 0 ? args[0] : "../test-vectors.json");
        Map<String, Object> doc = (Map<String, Object>) new Json(Files.readString(file, StandardCharsets.UTF_8)).value();
        Map<String, Object> key = (Map<String, Object>) doc.get("test_rsa_key");
        PrivateKey privateKey = privateKey((String) key.get("private_key_pem"));
        PublicKey publicKey = publicKey((String) key.get("public_key_pem"));
        int failed = 0;
        for (Object o : (List<Object>) doc.get("vectors")) {
            Map<String, String> v = new LinkedHashMap<>();
            ((Map<String, Object>) o).forEach((k, val) -> v.put(k, (String) val));
            byte[] body = v.get("body").getBytes(StandardCharsets.UTF_8);
            String m = v.get("method"), p = v.get("path_with_query"), t = v.get("timestamp"), n = v.get("nonce");
            List<String> problems = new ArrayList<>();
            if (!stringToSign(m, p, t, n, body).equals(v.get("string_to_sign"))) problems.add("string_to_sign");
            if (v.get("algorithm").equals("HMAC-SHA256")) {
                if (!signHmac(v.get("secret"), m, p, t, n, body).equals(v.get("signature"))) problems.add("signature");
            } else {
                if (!signRsa(privateKey, m, p, t, n, body).equals(v.get("signature"))) problems.add("signature");
                Signature verifier = Signature.getInstance("SHA256withRSA");
                verifier.initVerify(publicKey);
                verifier.update(v.get("string_to_sign").getBytes(StandardCharsets.UTF_8));
                if (!verifier.verify(Base64.getDecoder().decode(v.get("signature")))) problems.add("verify");
            }
            if (!problems.isEmpty()) failed++;
            System.out.println((problems.isEmpty() ? "ok   " : "FAIL ") + v.get("name")
                    + (problems.isEmpty() ? "" : " " + problems));
        }
        System.exit(failed == 0 ? 0 : 1);
    }

    /** Just enough JSON to read the vectors file: objects, arrays, strings, numbers, literals. */
    static final class Json {
        private final String s;
        private int i;

        Json(String s) { this.s = s; }

        Object value() {
            skip();
            char c = s.charAt(i);
            if (c == '{') {
                Map<String, Object> map = new LinkedHashMap<>();
                i++;
                skip();
                if (s.charAt(i) == '}') { i++; return map; }
                while (true) {
                    skip();
                    String k = string();
                    skip();
                    i++; // ':'
                    map.put(k, value());
                    skip();
                    if (s.charAt(i++) == '}') return map;
                }
            }
            if (c == '[') {
                List<Object> list = new ArrayList<>();
                i++;
                skip();
                if (s.charAt(i) == ']') { i++; return list; }
                while (true) {
                    list.add(value());
                    skip();
                    if (s.charAt(i++) == ']') return list;
                }
            }
            if (c == '"') return string();
            int start = i;
            while (i < s.length() && ",}] \n\r\t".indexOf(s.charAt(i)) < 0) i++;
            return s.substring(start, i);
        }

        private String string() {
            StringBuilder out = new StringBuilder();
            i++; // opening quote
            while (true) {
                char c = s.charAt(i++);
                if (c == '"') return out.toString();
                if (c != '\\') { out.append(c); continue; }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n' -> out.append('\n');
                    case 't' -> out.append('\t');
                    case 'r' -> out.append('\r');
                    case 'b' -> out.append('\b');
                    case 'f' -> out.append('\f');
                    case 'u' -> { out.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; }
                    default -> out.append(e);
                }
            }
        }

        private void skip() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        }
    }
}
