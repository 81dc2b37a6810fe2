//! Sources and destinations on object stores, against protocol servers that
//! `scripts/test.sh` starts (scripts/object-stores.sh): moto for S3 (checking signatures
//! and permissions), Azurite for Azure Blob Storage, gcp-storage-emulator for Google Cloud
//! Storage (with the XML API added by scripts/gcs-emulator.py). Objects are put and read
//! back with each cloud's own Python client, and Parquet and CSV contents compared with
//! pyarrow.

mod common;

use common::{run_python, run_spec as run, text, workspace};

use std::sync::atomic::{AtomicUsize, Ordering};

fn endpoint(name: &str) -> String {
    common::service_var(name, "the object store servers")
}

/// A bucket or container name of its own for each test.
fn fresh_name(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst))
}

/// A store under test: how Python reaches it, and the `storage_config` a spec uses.
trait Store {
    /// `s3://bucket`, `az://container`.
    fn root(&self) -> String;
    fn storage_config(&self) -> String;
    /// Python that defines `put(key, bytes)`, `get(key) -> bytes` and `keys() -> list`.
    fn python_client(&self) -> String;
}

struct S3 {
    endpoint: String,
    key_id: String,
    secret: String,
    bucket: String,
}

impl S3 {
    fn new() -> S3 {
        let s3 = S3 {
            endpoint: endpoint("AQUEDUCTS_TEST_S3_ENDPOINT"),
            key_id: endpoint("AQUEDUCTS_TEST_S3_ACCESS_KEY_ID"),
            secret: endpoint("AQUEDUCTS_TEST_S3_SECRET_ACCESS_KEY"),
            bucket: fresh_name("aq"),
        };
        run_python(Path::new("."), &format!("{}\nclient.create_bucket(Bucket={:?})", s3.python_client(), s3.bucket));
        s3
    }
}

impl Store for S3 {
    fn root(&self) -> String {
        format!("s3://{}", self.bucket)
    }

    fn storage_config(&self) -> String {
        // The upper-case spellings users copy from AWS's docs, mixed with object_store's.
        format!(
            "{{ AWS_ENDPOINT: '{}', AWS_ALLOW_HTTP: 'true', aws_access_key_id: {}, AWS_SECRET_ACCESS_KEY: '{}', AWS_REGION: us-east-1 }}",
            self.endpoint, self.key_id, self.secret
        )
    }

    fn python_client(&self) -> String {
        format!(
            "import boto3
client = boto3.client('s3', endpoint_url={endpoint:?}, aws_access_key_id={key_id:?}, aws_secret_access_key={secret:?}, region_name='us-east-1')
def put(key, data): client.put_object(Bucket={bucket:?}, Key=key, Body=data)
def get(key): return client.get_object(Bucket={bucket:?}, Key=key)['Body'].read()
def keys(): return sorted(o['Key'] for o in client.list_objects_v2(Bucket={bucket:?}).get('Contents', []))
",
            endpoint = self.endpoint,
            key_id = self.key_id,
            secret = self.secret,
            bucket = self.bucket
        )
    }
}

struct Azure {
    endpoint: String,
    container: String,
}

/// Azurite's well-known development account.
const AZURITE_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

impl Azure {
    fn new() -> Azure {
        let azure = Azure { endpoint: endpoint("AQUEDUCTS_TEST_AZURE_ENDPOINT"), container: fresh_name("aq") };
        run_python(Path::new("."), &format!("{}\ncontainer.create_container()", azure.python_client()));
        azure
    }
}

impl Store for Azure {
    fn root(&self) -> String {
        format!("az://{}", self.container)
    }

    fn storage_config(&self) -> String {
        format!(
            "{{ AZURE_STORAGE_ACCOUNT_NAME: devstoreaccount1, azure_storage_account_key: '{AZURITE_KEY}', azure_storage_endpoint: '{}', ALLOW_HTTP: 'true' }}",
            self.endpoint
        )
    }

    fn python_client(&self) -> String {
        format!(
            "from azure.storage.blob import BlobServiceClient
service = BlobServiceClient(account_url={endpoint:?}, credential={{'account_name': 'devstoreaccount1', 'account_key': {key:?}}})
container = service.get_container_client({container:?})
def put(key, data): container.upload_blob(key, data, overwrite=True)
def get(key): return container.download_blob(key).readall()
def keys(): return sorted(b.name for b in container.list_blobs())
",
            endpoint = self.endpoint,
            key = AZURITE_KEY,
            container = self.container
        )
    }
}

/// A service account key that asks for no OAuth token, as emulators take (object_store's
/// `google_skip_signature` leaves writes signed, so it does not do for them).
const GCS_EMULATOR_KEY: &str =
    r#"{"disable_oauth": true, "client_email": "", "private_key": "", "private_key_id": ""}"#;

struct Gcs {
    endpoint: String,
    bucket: String,
}

impl Gcs {
    fn new() -> Gcs {
        let gcs = Gcs { endpoint: endpoint("AQUEDUCTS_TEST_GCS_ENDPOINT"), bucket: fresh_name("aq") };
        run_python(Path::new("."), &format!("{}\nclient.create_bucket({:?})", gcs.python_client(), gcs.bucket));
        gcs
    }
}

impl Store for Gcs {
    fn root(&self) -> String {
        format!("gs://{}", self.bucket)
    }

    fn storage_config(&self) -> String {
        format!(
            "{{ GOOGLE_BASE_URL: '{}', google_service_account_key: '{GCS_EMULATOR_KEY}', allow_http: 'true' }}",
            self.endpoint
        )
    }

    fn python_client(&self) -> String {
        format!(
            "from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
client = storage.Client(project='aqueducts', credentials=AnonymousCredentials(), client_options={{'api_endpoint': {endpoint:?}}})
bucket = client.bucket({bucket:?})
def put(key, data): bucket.blob(key).upload_from_string(data)
def get(key): return bucket.blob(key).download_as_bytes()
def keys(): return sorted(b.name for b in client.list_blobs({bucket:?}))
",
            endpoint = self.endpoint,
            bucket = self.bucket
        )
    }
}

use std::path::Path;

/// Puts the test data: a CSV file, a Parquet file and a hive-partitioned CSV directory.
fn put_inputs(store: &dyn Store) {
    run_python(
        Path::new("."),
        &format!(
            "{}
import io, pyarrow as pa, pyarrow.parquet as pq
put('in/people.csv', b'id,name\\n1,ann\\n2,bob\\n3,cy\\n')
buffer = io.BytesIO()
pq.write_table(pa.table({{'id': [1, 2, 3], 'score': [1.5, 2.5, 3.5]}}), buffer)
put('in/scores.parquet', buffer.getvalue())
put('in/visits/year=2023/a.csv', b'id,visits\\n1,10\\n')
put('in/visits/year=2024/b.csv', b'id,visits\\n2,20\\n3,30\\n')
",
            store.python_client()
        ),
    );
}

fn spec(store: &dyn Store, destination: &str) -> String {
    let (root, config) = (store.root(), store.storage_config());
    format!(
        "sources:
  - {{ type: file, name: people, format: {{ type: csv, options: {{}} }}, location: '{root}/in/people.csv', storage_config: {config} }}
  - {{ type: file, name: scores, format: {{ type: parquet, options: {{}} }}, location: '{root}/in/scores.parquet', storage_config: {config} }}
  - type: directory
    name: visits
    format: {{ type: csv, options: {{}} }}
    location: '{root}/in/visits/'
    partition_columns: [{{ name: year, data_type: int32 }}]
    storage_config: {config}
stages:
  - name: joined
    query: >
      SELECT p.id, p.name, s.score, v.visits, v.year
      FROM people p JOIN scores s ON p.id = s.id JOIN visits v ON p.id = v.id ORDER BY p.id
destination:
  {destination}
  storage_config: {config}
"
    )
}

const EXPECTED: &str = "[(1, 'ann', 1.5, 10, 2023), (2, 'bob', 2.5, 20, 2024), (3, 'cy', 3.5, 30, 2024)]";

fn reads_and_writes_files_and_partitioned_directories(store: &dyn Store) {
    put_inputs(store);
    let dir = workspace();
    let root = store.root();
    let single = format!(
        "type: file\n  name: out\n  format: {{ type: parquet, options: {{}} }}\n  location: '{root}/out/joined.parquet'"
    );
    let out = run(dir.path(), &spec(store, &single), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rows = run_python(
        dir.path(),
        &format!(
            "{}
import io, pyarrow.parquet as pq
t = pq.read_table(io.BytesIO(get('out/joined.parquet')))
print(sorted(tuple(r.values()) for r in t.to_pylist()))
print([k for k in keys() if k.startswith('out/') or 'staging' in k])",
            store.python_client()
        ),
    );
    assert_eq!(rows.lines().collect::<Vec<_>>(), [EXPECTED, "['out/joined.parquet']"]);

    let partitioned = format!(
        "type: file\n  name: out\n  format: {{ type: csv, options: {{}} }}\n  location: '{root}/out/by_year/'\n  single_file: false\n  partition_columns: [year]"
    );
    let out = run(dir.path(), &spec(store, &partitioned), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rows = run_python(
        dir.path(),
        &format!(
            "{}
import io, pyarrow.csv as pc
rows = []
for key in keys():
    if key.startswith('out/by_year/'):
        year = int(key.split('year=')[1].split('/')[0])
        for r in pc.read_csv(io.BytesIO(get(key))).to_pylist():
            rows.append((r['id'], r['name'], r['score'], r['visits'], year))
print(sorted(rows))
print(sorted({{k.split('/')[2] for k in keys() if k.startswith('out/by_year/')}}))
print([k for k in keys() if 'staging' in k])",
            store.python_client()
        ),
    );
    assert_eq!(rows.lines().collect::<Vec<_>>(), [EXPECTED, "['year=2023', 'year=2024']", "[]"]);

    // Writing the directory again replaces it: parts of the previous output are gone.
    let before = run_python(
        dir.path(),
        &format!("{}\nprint(sorted(k for k in keys() if k.startswith('out/by_year/')))", store.python_client()),
    );
    let only_2024 = spec(store, &partitioned).replace("ORDER BY p.id", "WHERE v.year = 2024 ORDER BY p.id");
    let out = run(dir.path(), &only_2024, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let after = run_python(
        dir.path(),
        &format!("{}\nprint(sorted(k for k in keys() if k.startswith('out/by_year/')))", store.python_client()),
    );
    assert!(
        before.contains("year=2023") && !after.contains("year=2023") && after.contains("year=2024"),
        "{before} -> {after}"
    );

    // A single-file destination written with a trailing `/` is still one object.
    let slashed = format!(
        "type: file\n  name: out\n  format: {{ type: csv, options: {{}} }}\n  location: '{root}/out/single.csv/'"
    );
    let out = run(dir.path(), &spec(store, &slashed), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let single = run_python(
        dir.path(),
        &format!("{}\nprint(get('out/single.csv').decode().splitlines()[0])", store.python_client()),
    );
    assert_eq!(single.trim(), "id,name,score,visits,year");

    // The root of a bucket is never replaced.
    let root_destination = format!(
        "type: file\n  name: out\n  format: {{ type: csv, options: {{}} }}\n  location: '{root}/'\n  single_file: false"
    );
    let out = run(dir.path(), &spec(store, &root_destination), &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the root of a bucket or container"), "{stderr}");
    assert!(run_python(dir.path(), &format!("{}\nprint(len(keys()))", store.python_client())).trim() != "0");

    // A run that fails after writing leaves the previous objects as they were.
    let previous =
        run_python(dir.path(), &format!("{}\nprint(get('out/joined.parquet').hex())", store.python_client()));
    let failing = spec(store, &single).replace(
        "ORDER BY p.id",
        "ORDER BY p.id
  - name: broken
    query: SELECT CAST(name AS INT) AS n FROM joined
    show: 1",
    );
    let out = run(dir.path(), &failing, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let after = run_python(
        dir.path(),
        &format!(
            "{}\nprint(get('out/joined.parquet').hex())\nprint([k for k in keys() if 'staging' in k])",
            store.python_client()
        ),
    );
    assert_eq!(after.lines().collect::<Vec<_>>(), [previous.trim(), "[]"]);
}

#[test]
fn s3_sources_and_destinations() {
    reads_and_writes_files_and_partitioned_directories(&S3::new());
}

#[test]
fn azure_sources_and_destinations() {
    reads_and_writes_files_and_partitioned_directories(&Azure::new());
}

#[test]
fn gcs_sources_and_destinations() {
    reads_and_writes_files_and_partitioned_directories(&Gcs::new());
}

#[test]
fn s3_wrong_credentials_missing_buckets_unset_secrets_and_unknown_keys_are_clear_errors() {
    let s3 = S3::new();
    put_inputs(&s3);
    let dir = workspace();
    let single = format!(
        "type: file\n  name: out\n  format: {{ type: parquet, options: {{}} }}\n  location: '{}/out/x.parquet'",
        s3.root()
    );

    let missing_bucket =
        spec(&s3, &single).replace(&format!("{}/in/people.csv", s3.root()), "s3://no-such-bucket/people.csv");
    let out = run(dir.path(), &missing_bucket, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot read `s3://no-such-bucket/people.csv`"), "{stderr}");
    assert!(stderr.contains("check that the bucket or container exists"), "{stderr}");

    // A secret the spec takes from the environment, not set there, is named.
    let secret_setting = format!("AWS_SECRET_ACCESS_KEY: '{}'", s3.secret);
    let unset =
        spec(&s3, &single).replace(&secret_setting, "AWS_SECRET_ACCESS_KEY: '{{ env(\"AQ_NO_SUCH_SECRET\") }}'");
    let out = run(dir.path(), &unset, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("AQ_NO_SUCH_SECRET"), "{stderr}");

    let typo = spec(&s3, &single).replacen("AWS_REGION: us-east-1", "AWS_REGOIN: us-east-1", 1);
    let out = run(dir.path(), &typo, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("unknown `storage_config` key `AWS_REGOIN` for S3"), "{stderr}");
    assert!(stderr.contains("did you mean `aws_region`?"), "{stderr}");
    assert!(stderr.contains("spec.yml:2:"), "{stderr}");

    // moto checks signatures: a wrong secret is refused, and reported without the secret.
    let wrong_secret = spec(&s3, &single).replace(&secret_setting, "AWS_SECRET_ACCESS_KEY: hunter2-very-secret");
    let out = run(dir.path(), &wrong_secret, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("the store refused the credentials for `{}/in/people.csv`", s3.root())),
        "{stderr}"
    );
    assert!(stderr.contains("403 Forbidden"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    // An access key the server does not know.
    let unknown_key = spec(&s3, &single).replace(&s3.key_id, "AKIAUNKNOWNKEY000000");
    let out = run(dir.path(), &unknown_key, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the store refused the credentials"), "{stderr}");

    // A key that may read but not write: the run fails at the write, the previous output
    // stays, and no staging is left.
    let out = run(dir.path(), &spec(&s3, &single), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let previous = run_python(dir.path(), &format!("{}\nprint(get('out/x.parquet').hex())", s3.python_client()));
    let reader = spec(&s3, &single)
        .replace(&s3.key_id, &endpoint("AQUEDUCTS_TEST_S3_READER_ACCESS_KEY_ID"))
        .replace(&s3.secret, &endpoint("AQUEDUCTS_TEST_S3_READER_SECRET_ACCESS_KEY"));
    let out = run(dir.path(), &reader, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("lacked the necessary privileges") && stderr.contains("403 Forbidden"), "{stderr}");
    let after = run_python(
        dir.path(),
        &format!(
            "{}\nprint(get('out/x.parquet').hex())\nprint([k for k in keys() if 'staging' in k])",
            s3.python_client()
        ),
    );
    assert_eq!(after.lines().collect::<Vec<_>>(), [previous.trim(), "[]"]);

    // Credentials never appear in `--explain` or progress.
    std::fs::write(dir.path().join("secret.yml"), spec(&s3, &single)).unwrap();
    let explain = common::aqueducts(dir.path(), &["plan", "-f", "secret.yml", "--explain"]);
    assert_eq!(explain.status.code(), Some(0), "{}", text(&explain.stderr));
    let run_out = common::aqueducts(dir.path(), &["run", "-f", "secret.yml"]);
    assert_eq!(run_out.status.code(), Some(0), "{}", text(&run_out.stderr));
    for output in [&explain, &run_out] {
        let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert!(!all.contains(&s3.secret), "{all}");
    }
}

#[test]
fn gcs_unusable_credentials_and_missing_buckets_are_clear_errors() {
    let gcs = Gcs::new();
    put_inputs(&gcs);
    let dir = workspace();
    let single = format!(
        "type: file\n  name: out\n  format: {{ type: parquet, options: {{}} }}\n  location: '{}/out/x.parquet'",
        gcs.root()
    );
    let missing =
        spec(&gcs, &single).replace(&format!("{}/in/people.csv", gcs.root()), "gs://no-such-bucket/people.csv");
    let out = run(dir.path(), &missing, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot read `gs://no-such-bucket/people.csv`"), "{stderr}");
    assert!(stderr.contains("check that the bucket or container exists"), "{stderr}");

    // The emulator checks no credentials (S3 and Azure test refused ones), so a wrong one
    // here is one that cannot be used: a service account key whose private key is not a
    // key. It is not shown.
    let key = r#"{"type": "service_account", "client_email": "aq@example.iam.gserviceaccount.com", "private_key_id": "k1", "private_key": "hunter2-not-a-pem-key"}"#;
    let bad_key = spec(&gcs, &single).replace(GCS_EMULATOR_KEY, key);
    let out = run(dir.path(), &bad_key, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("cannot set up the store for `{}`", gcs.root())), "{stderr}");
    assert!(stderr.contains("pem"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");

    let missing_file = spec(&gcs, &single).replace(
        &format!("google_service_account_key: '{GCS_EMULATOR_KEY}'"),
        "GOOGLE_SERVICE_ACCOUNT_PATH: /nonexistent/key.json",
    );
    let out = run(dir.path(), &missing_file, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("/nonexistent/key.json"), "{stderr}");
}

#[test]
fn azure_wrong_credentials_and_missing_containers_are_clear_errors() {
    // Azurite checks shared-key signatures.
    let azure = Azure::new();
    put_inputs(&azure);
    let dir = workspace();
    let single = format!(
        "type: file\n  name: out\n  format: {{ type: parquet, options: {{}} }}\n  location: '{}/out/x.parquet'",
        azure.root()
    );
    let wrong_key = spec(&azure, &single).replace(AZURITE_KEY, "d3JvbmcgYnV0IHdlbGwtZm9ybWVkIGtleQ==");
    let out = run(dir.path(), &wrong_key, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("the store refused the credentials for `{}/in/people.csv`", azure.root())),
        "{stderr}"
    );
    assert!(stderr.contains("403") || stderr.contains("AuthorizationFailure"), "{stderr}");
    assert!(!stderr.contains("d3JvbmcgYnV0"), "{stderr}");

    let missing =
        spec(&azure, &single).replace(&format!("{}/in/people.csv", azure.root()), "az://no-such-container/people.csv");
    let out = run(dir.path(), &missing, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("az://no-such-container/people.csv"), "{stderr}");
}

/// `python -m http.server` serving `dir` on a free port, stopped when dropped.
struct HttpServer {
    child: std::process::Child,
    port: u16,
}

impl HttpServer {
    fn start(dir: &Path) -> HttpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new(common::python())
            .args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string()])
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed().as_secs() < 20, "http.server did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        HttpServer { child, port }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn plain_http_files_are_read_only_sources() {
    let served = tempfile::tempdir().unwrap();
    std::fs::write(served.path().join("people.csv"), "id,name\n1,ann\n2,bob\n").unwrap();
    // Python's server answers no range requests, which Parquet footers need: JSON here.
    std::fs::write(served.path().join("scores.json"), "{\"id\": 1, \"score\": 0.5}\n{\"id\": 2, \"score\": 1.5}\n")
        .unwrap();
    let server = HttpServer::start(served.path());
    let base = format!("http://127.0.0.1:{}", server.port);
    let dir = workspace();
    let spec = format!(
        "sources:
  - {{ type: file, name: people, format: {{ type: csv, options: {{}} }}, location: '{base}/people.csv', storage_config: {{ ALLOW_HTTP: 'true' }} }}
  - {{ type: file, name: scores, format: {{ type: json, options: {{}} }}, location: '{base}/scores.json', storage_config: {{ ALLOW_HTTP: 'true' }} }}
stages:
  - name: joined
    query: SELECT p.id, p.name, s.score FROM people p JOIN scores s USING (id) ORDER BY p.id
destination:
  type: file
  name: out
  format: {{ type: csv, options: {{}} }}
  location: ./out/joined.csv
"
    );
    let out = run(dir.path(), &spec, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/joined.csv")).unwrap(),
        "id,name,score\n1,ann,0.5\n2,bob,1.5\n"
    );
    // HTTP is read-only.
    let written = spec.replace(
        "location: ./out/joined.csv",
        &format!("location: '{base}/out.csv'\n  storage_config: {{ allow_http: 'true' }}"),
    );
    let out = run(dir.path(), &written, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("HTTP locations are read-only"), "{stderr}");
    // A misspelt HTTP setting is located, with the key it was probably meant to be.
    let typo = spec.replacen("ALLOW_HTTP", "ALOW_HTTP", 1);
    let out = run(dir.path(), &typo, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("unknown `storage_config` key `ALOW_HTTP` for HTTP"), "{stderr}");
    assert!(stderr.contains("did you mean `allow_http`?"), "{stderr}");
}
