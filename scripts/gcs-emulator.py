"""Google Cloud Storage emulator for the tests: gcp-storage-emulator (PyPI) plus the XML API.

gcp-storage-emulator serves GCS's JSON API, which Google's client libraries speak. The
`object_store` crate, which Aqueducts uses, speaks GCS's XML API instead
(https://cloud.google.com/storage/docs/xml-api/reference-methods), of which the emulator
only routes a plain GET and PUT of one object. This file serves the rest of the XML API
that `object_store` uses (HEAD, GET with ranges, PUT, copy, DELETE, listing, multipart
uploads) over the emulator's own storage, so that objects written through one API are read
through the other: the tests write with `object_store` (XML) and read back with Google's
Python client (JSON).

    python scripts/gcs-emulator.py PORT

Objects live in memory (the emulator's disk store cannot hold both `a` and `a/b`). It
builds on private parts of gcp-storage-emulator (`objects._make_object_resource`,
`_checksums`, `_delete`, `server.RequestHandler`): check them when upgrading its pin.
"""

import hashlib
import logging
import re
import sys
import uuid
from email.utils import formatdate
from functools import partial
from http import HTTPStatus
from http.server import HTTPServer
from urllib.parse import parse_qs, unquote, urlparse
from xml.sax.saxutils import escape

from gcp_storage_emulator import server as emulator
from gcp_storage_emulator.exceptions import NotFound
from gcp_storage_emulator.handlers import objects
from gcp_storage_emulator.storage import Storage

# First path segments of the emulator's JSON API and its internal routes: everything else
# is `/{bucket}` or `/{bucket}/{object}` of the XML API.
JSON_API_ROOTS = {"", "b", "storage", "upload", "download", "batch", "wipe"}
XML = "application/xml"


def _etag(obj):
    return '"{}"'.format(obj.get("etag") or obj.get("md5Hash") or obj["generation"])


def _http_date(obj):
    # The emulator keeps RFC 3339 times; the XML API answers with HTTP dates.
    from datetime import datetime

    updated = datetime.fromisoformat(obj["updated"].replace("Z", "+00:00"))
    return formatdate(updated.timestamp(), usegmt=True)


class Missing(Exception):
    """A bucket (`NoSuchBucket`) or object (`NoSuchKey`) that does not exist."""


def _error(code, status, message):
    body = "<?xml version='1.0' encoding='UTF-8'?><Error><Code>{}</Code><Message>{}</Message></Error>".format(
        code, escape(message)
    )
    return status, {"Content-Type": XML}, body.encode()


class XmlApi:
    """The XML API's object and bucket methods over the emulator's `Storage`."""

    def __init__(self, storage):
        self.storage = storage
        self.uploads = {}  # upload id -> (bucket, object, {part number: bytes})

    def _object(self, bucket, name):
        if self.storage.get_bucket(bucket) is None:
            raise Missing("NoSuchBucket", bucket)
        try:
            obj = self.storage.get_file_obj(bucket, name)
            content = self.storage.get_file(bucket, name)
        except NotFound:
            raise Missing("NoSuchKey", name)
        return obj, content

    def _write(self, bucket, name, content, content_type, base_url):
        obj = objects._make_object_resource(base_url, bucket, name, content_type, str(len(content)))
        obj = objects._checksums(content, obj)
        obj["etag"] = hashlib.md5(content).hexdigest()
        self.storage.create_file(bucket, name, content, obj)
        return obj

    def _object_headers(self, obj):
        return {
            "ETag": _etag(obj),
            "Last-Modified": _http_date(obj),
            "x-goog-generation": str(obj["generation"]),
            "Content-Type": obj.get("contentType") or "application/octet-stream",
        }

    def handle(self, method, bucket, name, query, headers, body, base_url):
        try:
            if name is None:
                return self._bucket(method, bucket, query)
            return self._object_method(method, bucket, name, query, headers, body, base_url)
        except Missing as missing:
            code, what = missing.args
            kind = "bucket" if code == "NoSuchBucket" else "object"
            return _error(code, HTTPStatus.NOT_FOUND, "no such {} `{}`".format(kind, what))
        except Exception as error:  # an emulator bug: say so rather than drop the connection
            logging.exception("%s %s/%s failed", method, bucket, name)
            return _error("InternalError", HTTPStatus.INTERNAL_SERVER_ERROR, repr(error))

    def _bucket(self, method, bucket, query):
        if method != "GET" or query.get("list-type") != ["2"]:
            return _error("NotImplemented", HTTPStatus.NOT_IMPLEMENTED, "{} on a bucket".format(method))
        if self.storage.get_bucket(bucket) is None:
            raise Missing("NoSuchBucket", bucket)
        prefix = query.get("prefix", [""])[0]
        delimiter = query.get("delimiter", [None])[0]
        start_after = query.get("start-after", [""])[0]
        token = query.get("continuation-token", [""])[0]
        max_keys = max(1, int(query.get("max-keys", ["1000"])[0]))
        items, prefixes = self.storage.get_file_list(bucket, prefix or None, delimiter)
        entries = [("key", o["name"], o) for o in items] + [("prefix", p, None) for p in prefixes]
        entries = sorted((e for e in entries if e[1] > max(start_after, token)), key=lambda e: e[1])
        page, rest = entries[:max_keys], entries[max_keys:]
        out = ["<?xml version='1.0' encoding='UTF-8'?><ListBucketResult>"]
        out.append("<Name>{}</Name><Prefix>{}</Prefix><KeyCount>{}</KeyCount>".format(
            escape(bucket), escape(prefix), len(page)))
        for kind, key, obj in page:
            if kind == "key":
                out.append(
                    "<Contents><Key>{}</Key><Size>{}</Size><LastModified>{}</LastModified><ETag>{}</ETag></Contents>".format(
                        escape(key), obj["size"], obj["updated"], escape(_etag(obj))))
            else:
                out.append("<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>".format(escape(key)))
        if rest:
            out.append("<IsTruncated>true</IsTruncated><NextContinuationToken>{}</NextContinuationToken>".format(
                escape(page[-1][1])))
        out.append("</ListBucketResult>")
        return HTTPStatus.OK, {"Content-Type": XML}, "".join(out).encode()

    def _object_method(self, method, bucket, name, query, headers, body, base_url):
        if method in ("GET", "HEAD"):
            conditions = ("If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since")
            if "generation" in query or any(headers.get(c) for c in conditions):
                return _error("NotImplemented", HTTPStatus.NOT_IMPLEMENTED, "versions and conditions")
            obj, content = self._object(bucket, name)
            answer = self._object_headers(obj)
            status = HTTPStatus.OK
            ranged = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", headers.get("Range", "") or "")
            if ranged and (ranged.group(1) or ranged.group(2)):
                total = len(content)
                if ranged.group(1):
                    start = int(ranged.group(1))
                    end = min(total - 1, int(ranged.group(2))) if ranged.group(2) else total - 1
                else:  # a suffix: the last N bytes
                    start, end = max(0, total - int(ranged.group(2))), total - 1
                if start >= total:
                    return _error("InvalidRange", HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, "range past the end")
                content = content[start : end + 1]
                answer["Content-Range"] = "bytes {}-{}/{}".format(start, end, total)
                status = HTTPStatus.PARTIAL_CONTENT
            return status, answer, content

        if method == "DELETE":
            if "uploadId" in query:
                self.uploads.pop(query["uploadId"][0], None)
                return HTTPStatus.NO_CONTENT, {}, b""
            self._object(bucket, name)
            objects._delete(self.storage, bucket, name)
            return HTTPStatus.NO_CONTENT, {}, b""

        if method == "POST" and "uploads" in query:
            if self.storage.get_bucket(bucket) is None:
                raise Missing("NoSuchBucket", bucket)
            upload_id = uuid.uuid4().hex
            self.uploads[upload_id] = (bucket, name, {}, headers.get("Content-Type") or "application/octet-stream")
            body = "<?xml version='1.0' encoding='UTF-8'?><InitiateMultipartUploadResult><Bucket>{}</Bucket><Key>{}</Key><UploadId>{}</UploadId></InitiateMultipartUploadResult>".format(
                escape(bucket), escape(name), upload_id)
            return HTTPStatus.OK, {"Content-Type": XML}, body.encode()

        if method == "POST" and "uploadId" in query:
            upload = self.uploads.get(query["uploadId"][0])
            if upload is None or upload[:2] != (bucket, name):
                return _error("NoSuchUpload", HTTPStatus.NOT_FOUND, "no such upload")
            _, _, parts, content_type = upload
            numbers = [int(n) for n in re.findall(r"<PartNumber>(\d+)</PartNumber>", body.decode())]
            if not numbers or any(n not in parts for n in numbers):
                return _error("InvalidPart", HTTPStatus.BAD_REQUEST, "a listed part was not uploaded")
            del self.uploads[query["uploadId"][0]]
            content = b"".join(parts[n] for n in numbers)
            obj = self._write(bucket, name, content, content_type, base_url)
            answer = "<?xml version='1.0' encoding='UTF-8'?><CompleteMultipartUploadResult><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></CompleteMultipartUploadResult>".format(
                escape(bucket), escape(name), escape(_etag(obj)))
            return HTTPStatus.OK, {"Content-Type": XML, "x-goog-generation": str(obj["generation"])}, answer.encode()

        if method == "PUT" and "uploadId" in query:
            upload = self.uploads.get(query["uploadId"][0])
            if upload is None or upload[:2] != (bucket, name) or "partNumber" not in query:
                return _error("NoSuchUpload", HTTPStatus.NOT_FOUND, "no such upload")
            upload[2][int(query["partNumber"][0])] = body
            return HTTPStatus.OK, {"ETag": '"{}"'.format(hashlib.md5(body).hexdigest())}, b""

        if method == "PUT":
            if self.storage.get_bucket(bucket) is None:
                raise Missing("NoSuchBucket", bucket)
            condition = headers.get("x-goog-if-generation-match")
            if condition not in (None, "0"):
                return _error("NotImplemented", HTTPStatus.NOT_IMPLEMENTED, "generation conditions other than 0")
            if condition == "0":
                try:
                    self.storage.get_file_obj(bucket, name)
                    return _error("PreconditionFailed", HTTPStatus.PRECONDITION_FAILED, "the object exists")
                except NotFound:
                    pass
            source = headers.get("x-goog-copy-source")
            if source:
                source_bucket, _, source_name = unquote(source).lstrip("/").partition("/")
                source_obj, body = self._object(source_bucket, source_name)
                content_type = source_obj.get("contentType")
            else:
                content_type = headers.get("Content-Type") or "application/octet-stream"
            obj = self._write(bucket, name, body, content_type, base_url)
            return HTTPStatus.OK, {"ETag": _etag(obj), "x-goog-generation": str(obj["generation"])}, b""

        return _error("NotImplemented", HTTPStatus.NOT_IMPLEMENTED, "{} on an object".format(method))


class Handler(emulator.RequestHandler):
    """The emulator's JSON API, with the XML API's paths answered by `XmlApi`."""

    def __init__(self, xml_api, *args, **kwargs):
        self.xml_api = xml_api
        super().__init__(xml_api.storage, *args, **kwargs)

    def _xml_target(self):
        path = urlparse(self.path).path
        bucket, _, name = path.lstrip("/").partition("/")
        if bucket in JSON_API_ROOTS:
            return None
        return unquote(bucket), (unquote(name) if name else None)

    def _serve(self, method, fallback):
        target = self._xml_target()
        if target is None:
            return fallback()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = parse_qs(urlparse(self.path).query, keep_blank_values=True)
        base_url = "http://{}".format(self.headers.get("Host") or "127.0.0.1")
        status, headers, content = self.xml_api.handle(method, *target, query, self.headers, body, base_url)
        self.send_response(status.value, status.phrase)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(content)

    def do_GET(self):
        self._serve("GET", super().do_GET)

    def do_HEAD(self):
        self._serve("HEAD", lambda: self.send_error(HTTPStatus.NOT_IMPLEMENTED))

    def do_PUT(self):
        self._serve("PUT", super().do_PUT)

    def do_POST(self):
        self._serve("POST", super().do_POST)

    def do_DELETE(self):
        self._serve("DELETE", super().do_DELETE)


class Server(HTTPServer):
    # One request at a time (the emulator's storage is not thread-safe), but a long
    # queue: object_store opens many connections at once for ranged reads.
    request_queue_size = 128


def main():
    port = int(sys.argv[1])
    storage = Storage(use_memory_fs=True)
    Server(("127.0.0.1", port), partial(Handler, XmlApi(storage))).serve_forever()


if __name__ == "__main__":
    main()
