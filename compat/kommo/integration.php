<?php
/*
 * A whole Kommo drive integration, written the way a Kommo integrator
 * writes one: plain PHP and the curl extension, no libraries.
 *
 * It knows only the CRM's base URL and a bearer token:
 *
 *   KOMMO_BASE_URL=https://example.kommo.com KOMMO_TOKEN=... php integration.php
 *
 * and walks the drive as Kommo documents it: finds the drive through
 * /api/v4/account?with=drive_url, uploads a file in parts, lists it with
 * filters, renames it, uploads a second version and downloads it, links it
 * to a new lead, attaches it in a note, moves it to the trash and restores
 * it. Every answer is checked (status and the fields used); the first
 * failure names its step and exits non-zero.
 */

declare(strict_types=1);

if (!extension_loaded('curl')) {
    fwrite(STDERR, "integration: the PHP curl extension is missing (apt-get install php-curl)\n");
    exit(2);
}

$BASE = rtrim((string) getenv('KOMMO_BASE_URL'), '/');
$TOKEN = (string) getenv('KOMMO_TOKEN');
if ($BASE === '' || $TOKEN === '') {
    fwrite(STDERR, "integration: set KOMMO_BASE_URL (the CRM's base URL) and KOMMO_TOKEN (a bearer token)\n");
    exit(2);
}

// --- a few helpers -------------------------------------------------------

$STEP = 'start';

function step(string $name): void
{
    $GLOBALS['STEP'] = $name;
}

function ok(): void
{
    echo 'ok  ', $GLOBALS['STEP'], "\n";
}

function fail(string $why, ?array $response = null): never
{
    $msg = "FAILED  {$GLOBALS['STEP']}: $why\n";
    if ($response !== null) {
        $msg .= "  request: {$response['request']}\n";
        $msg .= "  answer:  HTTP {$response['status']}";
        if ($response['content_type'] !== '') {
            $msg .= " ({$response['content_type']})";
        }
        $msg .= "\n";
        if ($response['body'] !== '') {
            $body = $response['body'];
            if (strlen($body) > 2000) {
                $body = substr($body, 0, 2000) . '...';
            }
            $msg .= "  body:    $body\n";
        }
    }
    fwrite(STDERR, $msg);
    exit(1);
}

function check(bool $condition, string $why, ?array $response = null): void
{
    if (!$condition) {
        fail($why, $response);
    }
}

/**
 * One HTTP request. $body: an array is sent as JSON (json_encode), a string
 * as it is with $contentType. The bearer token goes along unless $auth is
 * false. Returns status, headers, body and the decoded JSON.
 */
function http(string $method, string $url, $body = null, bool $auth = true, ?string $contentType = null): array
{
    $headers = ['Accept: application/json'];
    if ($auth) {
        $headers[] = 'Authorization: Bearer ' . $GLOBALS['TOKEN'];
    }
    $ch = curl_init($url);
    curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
    curl_setopt($ch, CURLOPT_CUSTOMREQUEST, $method);
    curl_setopt($ch, CURLOPT_CONNECTTIMEOUT, 10);
    curl_setopt($ch, CURLOPT_TIMEOUT, 120);
    curl_setopt($ch, CURLOPT_USERAGENT, 'kommo-integration-test/1.0');
    if ($method === 'GET') {
        // A download may redirect to the storage; curl drops the token when
        // the redirect leaves the host.
        curl_setopt($ch, CURLOPT_FOLLOWLOCATION, true);
    }
    if (is_array($body)) {
        $headers[] = 'Content-Type: application/json';
        curl_setopt($ch, CURLOPT_POSTFIELDS, json_encode($body));
    } elseif (is_string($body)) {
        $headers[] = 'Content-Type: ' . ($contentType ?? 'application/octet-stream');
        curl_setopt($ch, CURLOPT_POSTFIELDS, $body);
    }
    curl_setopt($ch, CURLOPT_HTTPHEADER, $headers);
    $responseHeaders = [];
    curl_setopt($ch, CURLOPT_HEADERFUNCTION, function ($ch, string $line) use (&$responseHeaders): int {
        $parts = explode(':', $line, 2);
        if (count($parts) === 2) {
            $responseHeaders[strtolower(trim($parts[0]))] = trim($parts[1]);
        } elseif (str_starts_with($line, 'HTTP/')) {
            $responseHeaders = []; // a redirect's headers are not the answer's
        }
        return strlen($line);
    });
    $raw = curl_exec($ch);
    $request = "$method $url";
    if ($raw === false) {
        $error = curl_error($ch);
        curl_close($ch);
        fail("$request: no answer: $error");
    }
    $status = (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
    curl_close($ch);
    $contentTypeHeader = $responseHeaders['content-type'] ?? '';
    $json = null;
    if ($raw !== '' && preg_match('~[/+]json\b~', $contentTypeHeader)) {
        $json = json_decode($raw, true);
    }
    return [
        'request' => $request,
        'status' => $status,
        'headers' => $responseHeaders,
        'content_type' => $contentTypeHeader,
        'body' => $raw,
        'json' => $json,
    ];
}

/** Checks the status and that the answer is a JSON object; returns it. */
function expect_json(array $r, array $statuses, string $what): array
{
    check(in_array($r['status'], $statuses, true),
        "$what: expected HTTP " . implode(' or ', $statuses) . ", got {$r['status']}", $r);
    check(is_array($r['json']), "$what: the answer is not a JSON object", $r);
    return $r['json'];
}

/** $data['a']['b']... or null. */
function dig($data, string|int ...$keys)
{
    foreach ($keys as $key) {
        if (!is_array($data) || !array_key_exists($key, $data)) {
            return null;
        }
        $data = $data[$key];
    }
    return $data;
}

function uuids_of(array $files, string $key = 'uuid'): array
{
    return array_map(fn($f) => is_array($f) ? ($f[$key] ?? null) : null, $files);
}

/** Deterministic bytes that look like a PDF: a header, objects, %%EOF. */
function contract_pdf(int $size, string $seed): string
{
    $out = "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n";
    for ($i = 1; strlen($out) < $size; $i++) {
        $out .= "$i 0 obj\n<< /Length 128 >>\nstream\n"
            . hash('sha256', "$seed:$i") . hash('sha256', "$i:$seed")
            . "\nendstream\nendobj\n";
    }
    return substr($out, 0, $size - 6) . "%%EOF\n";
}

/**
 * Kommo's upload: open a session, then POST the parts to upload_url and
 * each next_url, raw, with the file's Content-Type, each part smaller than
 * max_part_size. The last part answers the file.
 */
function upload(string $drive, string $fileName, string $bytes, string $mime, ?string $fileUuid = null): array
{
    $request = ['file_name' => $fileName, 'file_size' => strlen($bytes), 'content_type' => $mime];
    if ($fileUuid !== null) {
        $request['file_uuid'] = $fileUuid;
    }
    $r = http('POST', "$drive/v1.0/sessions", $request);
    $session = expect_json($r, [200], 'open the upload session');
    $uploadUrl = $session['upload_url'] ?? null;
    $maxPart = $session['max_part_size'] ?? null;
    check(is_string($uploadUrl) && $uploadUrl !== '', 'the session has no upload_url', $r);
    check(is_int($maxPart) && $maxPart > 0, 'the session has no integer max_part_size', $r);
    check(!isset($session['max_file_size']) || $session['max_file_size'] >= strlen($bytes),
        'the session says the file is too large', $r);

    // Smaller parts than the limit, as a client may cut them.
    $partSize = max(1, min(100000, intdiv($maxPart, 3)));
    check($partSize < $maxPart, "max_part_size $maxPart is too small to cut smaller parts", $r);

    $url = $uploadUrl;
    $size = strlen($bytes);
    $parts = 0;
    for ($offset = 0; ; $offset += $partSize) {
        $chunk = substr($bytes, $offset, $partSize);
        $parts++;
        $last = $offset + strlen($chunk) >= $size;
        // The upload URL carries its own credential (it may sit on another
        // host); the bearer token is not sent there.
        $r = http('POST', $url, $chunk, false, $mime);
        if (!$last) {
            // Kommo's library reads next_url from any 2xx answer.
            $answer = expect_json($r, [200, 202], "upload part $parts");
            $url = $answer['next_url'] ?? null;
            check(is_string($url) && $url !== '', "part $parts: the answer has no next_url", $r);
            continue;
        }
        $file = expect_json($r, [200], "upload the last part ($parts)");
        check(is_string($file['uuid'] ?? null) && $file['uuid'] !== '', 'the last part did not answer a file uuid', $r);
        check(is_string($file['version_uuid'] ?? null) && $file['version_uuid'] !== '',
            'the last part did not answer a version_uuid', $r);
        check(($file['size'] ?? null) === $size, "the file's size is not $size", $r);
        check($parts >= 3, "expected at least 3 parts, sent $parts");
        return $file;
    }
}

// --- the integration -----------------------------------------------------

// 1. Where is the drive?
step('1 discover the drive');
$r = http('GET', "$BASE/api/v4/account?with=drive_url");
$account = expect_json($r, [200], 'GET account');
check(is_int($account['id'] ?? null), 'the account has no integer id', $r);
$DRIVE = $account['drive_url'] ?? null;
check(is_string($DRIVE) && preg_match('~^https?://~', $DRIVE) === 1, 'the account has no drive_url', $r);
$DRIVE = rtrim($DRIVE, '/');
ok();

// 2. Upload a contract in parts.
step('2 upload in parts');
$v1Bytes = contract_pdf(300 * 1024, 'contract v1');
$file = upload($DRIVE, 'contract.pdf', $v1Bytes, 'application/pdf');
$uuid = $file['uuid'];
$v1 = $file['version_uuid'];
$r = http('GET', "$DRIVE/v1.0/files/$uuid");
$got = expect_json($r, [200], 'GET the uploaded file');
check(($got['name'] ?? null) === 'contract', "the file's name is not 'contract' (Kommo shows it without its extension)", $r);
check(dig($got, 'metadata', 'extension') === 'pdf', "the file's metadata.extension is not pdf", $r);
check(is_string(dig($got, '_links', 'download', 'href')), 'the file has no _links.download.href', $r);
check(($got['uuid'] ?? null) === $uuid && ($got['version_uuid'] ?? null) === $v1, 'GET answers another file or version', $r);
check(($got['size'] ?? null) === strlen($v1Bytes), 'GET answers another size', $r);
ok();

// 3. Find it with filters; a filter that excludes it finds nothing (204).
step('3 list with filters');
$query = http_build_query(['filter' => ['extensions' => ['pdf'], 'term' => 'contract'], 'limit' => 10]);
$r = http('GET', "$DRIVE/v1.0/files?$query");
$list = expect_json($r, [200], 'list pdf files named like contract');
$files = dig($list, '_embedded', 'files');
check(is_array($files), 'the list has no _embedded.files', $r);
check(in_array($uuid, uuids_of($files), true), 'the uploaded file is not listed', $r);
check(count($files) <= 10, 'the list holds more than limit=10 files', $r);
$query = http_build_query(['filter' => ['extensions' => ['docx'], 'term' => 'contract'], 'limit' => 10]);
$r = http('GET', "$DRIVE/v1.0/files?$query");
check($r['status'] === 204, "a filter that excludes the file: expected 204 No Content, got {$r['status']}", $r);
check($r['body'] === '', 'the 204 answer has a body', $r);
ok();

// 4. Rename it.
step('4 rename');
$newName = 'Contract signed (Договор)';
$r = http('PATCH', "$DRIVE/v1.0/files/$uuid", ['name' => $newName]);
$renamed = expect_json($r, [200], 'PATCH name');
check(($renamed['uuid'] ?? null) === $uuid, 'PATCH answered another file', $r);
check(($renamed['name'] ?? null) === $newName, "PATCH did not rename the file to '$newName'", $r);
check(($renamed['version_uuid'] ?? null) === $v1, 'a rename changed the version', $r);
$r = http('GET', "$DRIVE/v1.0/files/$uuid");
$got = expect_json($r, [200], 'GET the renamed file');
check(($got['name'] ?? null) === $newName, 'GET does not show the new name', $r);
ok();

// 5. A second version, then its bytes through the download link.
step('5 new version');
$v2Bytes = contract_pdf(300 * 1024 + 12345, 'contract v2, signed');
$version = upload($DRIVE, "$newName.pdf", $v2Bytes, 'application/pdf', $uuid);
check($version['uuid'] === $uuid, 'the new version answered another file uuid');
$v2 = $version['version_uuid'];
check($v2 !== $v1, 'the new version kept the first version_uuid');
$r = http('GET', "$DRIVE/v1.0/files/$uuid/versions");
$versions = expect_json($r, [200], 'GET versions');
$list = dig($versions, '_embedded', 'versions');
check(is_array($list) && count($list) === 2, 'expected 2 versions', $r);
check(!isset($versions['_count']) || $versions['_count'] === 2, '_count is not 2', $r);
$ids = uuids_of($list);
check(in_array($v1, $ids, true) && in_array($v2, $ids, true), 'the versions are not the two uploaded', $r);
foreach ($list as $v) {
    if (array_key_exists('is_main', $v)) {
        check($v['is_main'] === ($v['uuid'] === $v2), "version {$v['uuid']}: is_main is wrong", $r);
    }
}
$r = http('GET', "$DRIVE/v1.0/files/$uuid");
$got = expect_json($r, [200], 'GET the file after the new version');
check(($got['version_uuid'] ?? null) === $v2, "the file's version_uuid is not the new version", $r);
check(($got['size'] ?? null) === strlen($v2Bytes), "the file's size is not the new version's", $r);
$href = dig($got, '_links', 'download', 'href');
check(is_string($href) && $href !== '', 'the file has no _links.download.href', $r);
$r = http('GET', $href);
check($r['status'] === 200, "download: expected HTTP 200, got {$r['status']}", $r);
check(strlen($r['body']) === strlen($v2Bytes), 'download: got ' . strlen($r['body']) . ' bytes, expected ' . strlen($v2Bytes));
check($r['body'] === $v2Bytes, 'download: the bytes are not the second version');
ok();

// 6. A lead with the file in its Media tab.
step('6 link to a lead');
$r = http('POST', "$BASE/api/v4/leads", [['name' => 'Integration test: contract']]);
$created = expect_json($r, [200], 'POST leads');
$leadId = dig($created, '_embedded', 'leads', 0, 'id');
check(is_int($leadId), 'the lead has no integer id', $r);
$r = http('PUT', "$BASE/api/v4/leads/$leadId/files", [['file_uuid' => $uuid]]);
check(in_array($r['status'], [200, 202], true), "PUT lead files: expected HTTP 202 (or 200), got {$r['status']}", $r);
$r = http('GET', "$BASE/api/v4/leads/$leadId/files");
$linked = expect_json($r, [200], 'GET lead files');
$files = dig($linked, '_embedded', 'files');
check(is_array($files) && in_array($uuid, uuids_of($files, 'file_uuid'), true), 'the lead does not list the file', $r);
ok();

// 7. An attachment note on the lead, read back by id.
step('7 attachment note');
$noteParams = [
    'file_uuid' => $uuid,
    'version_uuid' => $v2,
    'file_name' => "$newName.pdf",
];
$r = http('POST', "$BASE/api/v4/leads/notes", [[
    'entity_id' => $leadId,
    'note_type' => 'attachment',
    'params' => $noteParams,
    'request_id' => 'contract-note',
]]);
$added = expect_json($r, [200], 'POST leads/notes');
$note = dig($added, '_embedded', 'notes', 0);
check(is_array($note) && is_int($note['id'] ?? null), 'the note has no integer id', $r);
check(($note['entity_id'] ?? null) === $leadId, 'the note is not on the lead', $r);
check(($note['request_id'] ?? null) === 'contract-note', "the note's request_id is not the one sent", $r);
$noteId = $note['id'];
$r = http('GET', "$BASE/api/v4/leads/$leadId/notes/$noteId");
$note = expect_json($r, [200], 'GET the note');
check(($note['id'] ?? null) === $noteId && ($note['entity_id'] ?? null) === $leadId, 'GET answers another note', $r);
check(($note['note_type'] ?? null) === 'attachment', 'the note is not an attachment', $r);
$params = $note['params'] ?? null;
check(is_array($params), 'the note has no params', $r);
foreach ($noteParams as $key => $value) {
    check(($params[$key] ?? null) === $value, "params.$key is not " . json_encode($value, JSON_UNESCAPED_UNICODE), $r);
}
check(is_string($params['original_name'] ?? null) && $params['original_name'] !== '', 'params.original_name is missing', $r);
check(($params['is_deleted'] ?? false) === false, 'the attached file shows as deleted', $r);
ok();

// 8. To the trash: gone from GET, listed with filter[deleted].
step('8 trash');
$r = http('DELETE', "$DRIVE/v1.0/files", [['uuid' => $uuid]]);
// Kommo answers 200 with a JSON object ({"result": true}; its reference
// shows {}); a "result" that is there must be true.
$answer = expect_json($r, [200], 'DELETE files');
check(($answer['result'] ?? true) === true, 'DELETE answered "result" other than true', $r);
$r = http('GET', "$DRIVE/v1.0/files/$uuid");
check($r['status'] === 404, "a trashed file: expected HTTP 404, got {$r['status']}", $r);
$r = http('GET', "$DRIVE/v1.0/files?" . http_build_query(['filter' => ['deleted' => 1], 'limit' => 50]));
$trash = expect_json($r, [200], 'list the trash');
$files = dig($trash, '_embedded', 'files');
check(is_array($files), 'the trash list has no _embedded.files', $r);
$found = array_values(array_filter($files, fn($f) => ($f['uuid'] ?? null) === $uuid));
check(count($found) === 1, 'the trashed file is not listed with filter[deleted]=1', $r);
check(($found[0]['is_trashed'] ?? null) === true, 'the listed file is not is_trashed', $r);
$r = http('GET', "$DRIVE/v1.0/files?" . http_build_query(['filter' => ['extensions' => ['pdf']], 'limit' => 50]));
if ($r['status'] !== 204) {
    $list = expect_json($r, [200], 'list the files outside the trash');
    check(!in_array($uuid, uuids_of(dig($list, '_embedded', 'files') ?? []), true),
        'the trashed file is still listed without filter[deleted]', $r);
}
$r = http('GET', $href);
check($r['status'] === 404, "download of a trashed file: expected HTTP 404, got {$r['status']}", $r);
ok();

// 9. Back from the trash.
step('9 restore');
$r = http('POST', "$DRIVE/v1.0/files/restore", [['uuid' => $uuid]]);
$restored = expect_json($r, [200], 'POST files/restore');
$files = dig($restored, '_embedded', 'files');
check(is_array($files) && in_array($uuid, uuids_of($files), true), 'the restore answer does not hold the file', $r);
$r = http('GET', "$DRIVE/v1.0/files/$uuid");
$got = expect_json($r, [200], 'GET the restored file');
check(($got['is_trashed'] ?? null) === false, 'the restored file is still is_trashed', $r);
check(($got['version_uuid'] ?? null) === $v2 && ($got['name'] ?? null) === $newName,
    'the restored file lost its name or version', $r);
$r = http('GET', $href);
check($r['status'] === 200 && $r['body'] === $v2Bytes, "download after restore: HTTP {$r['status']}, bytes differ", $r['status'] === 200 ? null : $r);
$r = http('GET', "$DRIVE/v1.0/files?" . http_build_query(['filter' => ['deleted' => 1], 'limit' => 50]));
if ($r['status'] !== 204) {
    $trash = expect_json($r, [200], 'list the trash after restore');
    check(!in_array($uuid, uuids_of(dig($trash, '_embedded', 'files') ?? []), true),
        'the restored file is still in the trash list', $r);
}
ok();

echo "integration passed\n";
