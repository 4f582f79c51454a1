//! Bad input closes one connection and harms nothing else: garbage before
//! and after the handshake, truncated and oversized frames, stalled
//! handshakes, slow readers and slow writers.

mod common;

use std::time::{Duration, Instant};

use common::raw::*;
use common::*;
use polyraft_transport::devcerts::DevCa;
use polyraft_transport::wire;
use polyraft_transport::{Security, TcpTransport, Transport};
use tokio::io::AsyncWriteExt;

struct Setup {
    dir: tempfile::TempDir,
    ca: DevCa,
    nodes: Vec<Node>,
}

/// Host 1 (read timeout 300 ms) and host 2, which sends to host 1.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let ca = DevCa::new("cluster CA").unwrap();
    let mut nodes = Vec::new();
    for id in [1, 2] {
        let mut cfg = test_config(id, Security::MutualTls(ca.write_host_files(dir.path(), id).unwrap()));
        cfg.read_timeout = Duration::from_millis(300);
        cfg.handshake_timeout = Duration::from_millis(500);
        cfg.max_frame_bytes = 1 << 20;
        cfg.snapshot_chunk_bytes = 256 << 10;
        let rec = Recorder::new();
        let t = TcpTransport::start(cfg, std::sync::Arc::new(Handler(rec.clone()))).unwrap();
        nodes.push(Node { id, t, rec });
    }
    let a1 = nodes[0].t.local_addr().to_string();
    nodes[1].t.add_peer(1, a1);
    Setup { dir, ca, nodes }
}

impl Setup {
    /// An authenticated connection from host 3 to host 1, past the Hello.
    async fn host3(&self) -> Box<dyn Io> {
        let f = self.ca.write_host_files(self.dir.path(), 3).unwrap();
        let mut conn = dial_tls(self.nodes[0].t.local_addr(), client_config(&f.ca, Some((&f.cert, &f.key))), 1).await.unwrap();
        assert!(hello(&mut conn, 3, 1).await.unwrap().accepted);
        conn
    }
    fn from3(&self) -> Vec<Vec<u8>> {
        self.nodes[0].rec.delivered().into_iter().filter(|m| m.0 == 3).map(|m| m.2.to_vec()).collect()
    }
    /// Host 2 still gets a message through to host 1.
    fn assert_host2_unharmed(&self, tag: &str) {
        let probe = msg(&format!("after {tag}"));
        self.nodes[1].t.send(1, vec![(1, probe.clone())]);
        assert!(
            wait_until(Duration::from_secs(5), || self.nodes[0].rec.delivered().iter().any(|m| m.2 == probe)),
            "host 2 unharmed by {tag}"
        );
    }
}

#[test]
fn garbage_before_the_handshake_is_refused() {
    let s = setup();
    runtime().block_on(async {
        for garbage in [&b"GET / HTTP/1.1\r\n\r\n"[..], &[0u8; 300][..], &[0x16, 3, 1, 0xff, 0xff][..]] {
            let mut c: Box<dyn Io> = Box::new(tokio::net::TcpStream::connect(s.nodes[0].t.local_addr()).await.unwrap());
            write_quiet(&mut c, garbage).await;
            assert!(closed_within(&mut c, Duration::from_secs(3)).await);
        }
    });
    s.assert_host2_unharmed("garbage before TLS");
    assert!(s.nodes[0].t.stats().connections_refused >= 3);
}

#[test]
fn a_stalled_handshake_is_closed() {
    let s = setup();
    runtime().block_on(async {
        let mut c: Box<dyn Io> = Box::new(tokio::net::TcpStream::connect(s.nodes[0].t.local_addr()).await.unwrap());
        let t0 = Instant::now();
        assert!(closed_within(&mut c, Duration::from_secs(3)).await, "handshake timeout closes the connection");
        println!("stalled handshake closed after {:?}", t0.elapsed());
    });
    s.assert_host2_unharmed("stalled handshake");
}

#[test]
fn bad_preamble_or_version_after_tls_is_refused() {
    let s = setup();
    let f = s.ca.write_host_files(s.dir.path(), 3).unwrap();
    runtime().block_on(async {
        for pre in [b"PLRAFT\x00\x02".to_vec(), b"XXXXXXXX".to_vec()] {
            let mut c = dial_tls(s.nodes[0].t.local_addr(), client_config(&f.ca, Some((&f.cert, &f.key))), 1).await.unwrap();
            write_quiet(&mut c, &pre).await;
            assert!(closed_within(&mut c, Duration::from_secs(3)).await);
        }
    });
    s.assert_host2_unharmed("bad preamble");
}

#[test]
fn an_undecodable_frame_closes_only_its_connection() {
    let s = setup();
    runtime().block_on(async {
        let mut c = s.host3().await;
        let mut bytes = frame_record(1, b"good");
        // A record of the right length whose body is not a Frame.
        bytes.extend_from_slice(&6u32.to_be_bytes());
        bytes.extend_from_slice(&[0xff; 6]);
        bytes.extend(frame_record(1, b"after garbage"));
        write_quiet(&mut c, &bytes).await;
        assert!(closed_within(&mut c, Duration::from_secs(3)).await);
    });
    assert!(wait_until(Duration::from_secs(2), || s.from3() == vec![b"good".to_vec()]));
    s.assert_host2_unharmed("undecodable frame");
    assert_eq!(s.from3(), vec![b"good".to_vec()], "nothing after the garbage");
}

#[test]
fn an_oversized_frame_is_refused_without_reading_it() {
    let s = setup();
    runtime().block_on(async {
        let mut c = s.host3().await;
        write_quiet(&mut c, &u32::MAX.to_be_bytes()).await;
        let t0 = Instant::now();
        assert!(closed_within(&mut c, Duration::from_secs(3)).await);
        assert!(t0.elapsed() < Duration::from_millis(250), "closed on the length alone, before any read timeout");
        // Just over the 1 MiB limit, with the body actually sent.
        let mut c = s.host3().await;
        let big = frame_record(1, &vec![7u8; 1 << 20]);
        write_quiet(&mut c, &big).await;
        assert!(closed_within(&mut c, Duration::from_secs(3)).await);
    });
    s.assert_host2_unharmed("oversized frame");
    assert!(s.from3().is_empty());
}

#[test]
fn a_truncated_frame_is_dropped_and_its_connection_closed() {
    let s = setup();
    runtime().block_on(async {
        // Truncated then closed.
        let mut c = s.host3().await;
        let rec = frame_record(1, b"truncated message");
        write_quiet(&mut c, &rec[..rec.len() - 3]).await;
        let _ = c.shutdown().await;
        // Truncated then stalled: the read timeout (300 ms) closes it.
        let mut c = s.host3().await;
        write_quiet(&mut c, &rec[..rec.len() - 3]).await;
        let t0 = Instant::now();
        assert!(closed_within(&mut c, Duration::from_secs(3)).await);
        println!("trickling writer closed after {:?}", t0.elapsed());
        assert!(t0.elapsed() >= Duration::from_millis(250));
    });
    s.assert_host2_unharmed("truncated frame");
    assert!(s.from3().is_empty());
}

#[test]
fn an_empty_frame_is_a_protocol_error() {
    let s = setup();
    runtime().block_on(async {
        let mut c = s.host3().await;
        write_quiet(&mut c, &wire::encode_record(&wire::Frame::default())).await;
        assert!(closed_within(&mut c, Duration::from_secs(3)).await);
    });
    s.assert_host2_unharmed("empty frame");
}

/// A plain-TCP acceptor that completes the handshake and then never reads:
/// the sender's write timeout closes the connection and reports the loss.
#[test]
fn a_slow_reader_is_disconnected_and_reported() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        let mut held = Vec::new();
        loop {
            let (mut c, _) = listener.accept().await.unwrap();
            let _ = wire::read_preamble(&mut c).await;
            let _ = wire::read_record(&mut c, wire::MAX_HANDSHAKE_RECORD).await;
            let reply = wire::HelloReply { version: 1, accepted: true, reason: String::new() };
            c.write_all(&wire::encode_record(&reply)).await.unwrap();
            held.push(c); // never read
        }
    });
    let mut cfg = test_config(1, Security::InsecurePlaintext);
    cfg.write_timeout = Duration::from_millis(300);
    let rec = Recorder::new();
    let t = TcpTransport::start(cfg, std::sync::Arc::new(Handler(rec.clone()))).unwrap();
    t.add_peer(2, addr.to_string());
    let t0 = Instant::now();
    // 1 MiB messages: the socket buffers fill after a few.
    assert!(wait_until(Duration::from_secs(10), || {
        t.send(2, vec![(5, bytes::Bytes::from(vec![0u8; 1 << 20]))]);
        std::thread::sleep(Duration::from_millis(10));
        rec.unreachable_count(2) > 0
    }));
    println!("slow reader detected after {:?}, stats {:?}", t0.elapsed(), t.stats());
    assert!(rec.unreachable.lock().iter().all(|(h, g)| *h == 2 && g == &vec![5]));
}
