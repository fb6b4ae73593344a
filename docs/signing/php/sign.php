<?php
// Signing a channel API request in PHP (7.4+), with the openssl and hash extensions.
//
//   php sign.php [path/to/test-vectors.json]   checks this code against every published test vector

// METHOD \n PATH_WITH_QUERY \n TIMESTAMP \n NONCE \n hex(sha256(body)); the path and query exactly as sent.
function string_to_sign(string $method, string $pathWithQuery, string $timestamp, string $nonce, string $body): string
{
    return implode("\n", [strtoupper($method), $pathWithQuery, $timestamp, $nonce, hash('sha256', $body)]);
}

function sign_hmac(string $secret, string $method, string $pathWithQuery, string $timestamp, string $nonce, string $body): string
{
    return base64_encode(hash_hmac('sha256', string_to_sign($method, $pathWithQuery, $timestamp, $nonce, $body), $secret, true));
}

// SHA256withRSA (RSASSA-PKCS1-v1_5 over SHA-256, Alipay's RSA2); $privateKeyPem: PKCS#8 or PKCS#1 PEM.
function sign_rsa(string $privateKeyPem, string $method, string $pathWithQuery, string $timestamp, string $nonce, string $body): string
{
    $signature = '';
    if (!openssl_sign(string_to_sign($method, $pathWithQuery, $timestamp, $nonce, $body), $signature, $privateKeyPem, OPENSSL_ALGO_SHA256)) {
        throw new RuntimeException('openssl_sign failed');
    }
    return base64_encode($signature);
}

// The four headers of an HMAC-signed request; send exactly $body (a string of UTF-8 bytes).
function signed_headers(string $channelId, string $secret, string $method, string $pathWithQuery, string $body): array
{
    $timestamp = (string) time();
    $nonce = bin2hex(random_bytes(16)); // 32 characters, never reused
    return [
        'X-Channel-Id' => $channelId,
        'X-Timestamp' => $timestamp,
        'X-Nonce' => $nonce,
        'X-Signature' => sign_hmac($secret, $method, $pathWithQuery, $timestamp, $nonce, $body),
    ];
}

if (PHP_SAPI === 'cli' && realpath($argv[0]) === __FILE__) {
    $doc = json_decode(file_get_contents($argv[1] ?? __DIR__ . '/../test-vectors.json'), true, 512, JSON_THROW_ON_ERROR);
    $key = $doc['test_rsa_key'];
    $failed = 0;
    foreach ($doc['vectors'] as $v) {
        $args = [$v['method'], $v['path_with_query'], $v['timestamp'], $v['nonce'], $v['body']];
        $problems = [];
        if (string_to_sign(...$args) !== $v['string_to_sign']) {
            $problems[] = 'string_to_sign';
        }
        $signature = $v['algorithm'] === 'HMAC-SHA256' ? sign_hmac($v['secret'], ...$args) : sign_rsa($key['private_key_pem'], ...$args);
        if ($signature !== $v['signature']) {
            $problems[] = 'signature';
        }
        if ($v['algorithm'] === 'SHA256withRSA'
            && openssl_verify($v['string_to_sign'], base64_decode($v['signature']), $key['public_key_pem'], OPENSSL_ALGO_SHA256) !== 1) {
            $problems[] = 'verify';
        }
        $failed += $problems ? 1 : 0;
        echo ($problems ? 'FAIL ' : 'ok   ') . $v['name'] . ($problems ? ' [' . implode(', ', $problems) . ']' : '') . "\n";
    }
    exit($failed ? 1 : 0);
}
