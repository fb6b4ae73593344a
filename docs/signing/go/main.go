// Signing a channel API request in Go, with the standard library only.
//
//	go run main.go [path/to/test-vectors.json]   checks this code against every published test vector
package main

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// StringToSign is METHOD \n PATH_WITH_QUERY \n TIMESTAMP \n NONCE \n hex(sha256(body)).
// pathWithQuery is exactly what goes on the request line (req.URL.RequestURI()), never re-encoded.
func StringToSign(method, pathWithQuery, timestamp, nonce string, body []byte) string {
	sum := sha256.Sum256(body)
	return strings.Join([]string{strings.ToUpper(method), pathWithQuery, timestamp, nonce, hex.EncodeToString(sum[:])}, "\n")
}

func SignHMAC(secret, method, pathWithQuery, timestamp, nonce string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(StringToSign(method, pathWithQuery, timestamp, nonce, body)))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SignRSA is SHA256withRSA: RSASSA-PKCS1-v1_5 over SHA-256.
func SignRSA(key *rsa.PrivateKey, method, pathWithQuery, timestamp, nonce string, body []byte) (string, error) {
	digest := sha256.Sum256([]byte(StringToSign(method, pathWithQuery, timestamp, nonce, body)))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// SignedHeaders returns the four headers of an HMAC-signed request; send exactly `body`.
func SignedHeaders(channelID, secret, method, pathWithQuery string, body []byte) map[string]string {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		panic(err)
	}
	nonce := hex.EncodeToString(raw) // 32 characters, never reused
	return map[string]string{"X-Channel-Id": channelID, "X-Timestamp": ts, "X-Nonce": nonce,
		"X-Signature": SignHMAC(secret, method, pathWithQuery, ts, nonce, body)}
}

func parsePrivateKey(pemText string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return rsaKey, nil
}

type vector struct {
	Name, Algorithm, Method, Nonce, Timestamp, Body, Secret, Signature string
	PathWithQuery                                                      string `json:"path_with_query"`
	StringToSign                                                       string `json:"string_to_sign"`
}

func main() {
	file := "../test-vectors.json"
	if len(os.Args) > 1 {
		file = os.Args[1]
	}
	data, err := os.ReadFile(file)
	if err != nil {
		panic(err)
	}
	var doc struct {
		TestRSAKey struct {
			PrivateKeyPEM string `json:"private_key_pem"`
		} `json:"test_rsa_key"`
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		panic(err)
	}
	key, err := parsePrivateKey(doc.TestRSAKey.PrivateKeyPEM)
	if err != nil {
		panic(err)
	}
	failed := 0
	for _, v := range doc.Vectors {
		body := []byte(v.Body)
		var problems []string
		if StringToSign(v.Method, v.PathWithQuery, v.Timestamp, v.Nonce, body) != v.StringToSign {
			problems = append(problems, "string_to_sign")
		}
		var sig string
		if v.Algorithm == "HMAC-SHA256" {
			sig = SignHMAC(v.Secret, v.Method, v.PathWithQuery, v.Timestamp, v.Nonce, body)
		} else {
			if sig, err = SignRSA(key, v.Method, v.PathWithQuery, v.Timestamp, v.Nonce, body); err != nil {
				panic(err)
			}
		}
		if sig != v.Signature {
			problems = append(problems, "signature")
		}
		if len(problems) > 0 {
			failed++
			fmt.Printf("FAIL %s %v\n", v.Name, problems)
		} else {
			fmt.Printf("ok   %s\n", v.Name)
		}
	}
	if failed > 0 {
		os.Exit(1)
	}
}
