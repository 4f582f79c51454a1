//! The security boundary: only a certificate from the cluster's CA that names
//! the claimed host id gets a message delivered.

mod common;

use std::time::Duration;

use common::raw::*;
use common::*;
use polyraft_transport::devcerts::{write_files, DevCa};
use polyraft_transport::tls::host_dns_name;
use polyraft_transport::{Security, TcpTransport, Transport};

const PAYLOAD: &[u8] = b"forged raft message";

/// Host 1 and 2 of a TLS cluster; host 2 keeps sending to host 1 throughout,
/// so each test also shows that refusals harm nobody else.
struct Victim {
    dir: tempfile::TempDir,
    ca: DevCa,
    nodes: Vec<Node>,
}

fn victim() -> Victim {
    let dir = tempfile::tempdir().unwrap();
    let ca = DevCa::new("cluster CA").unwrap();
    let mut nodes = Vec::new();
    for id in [1, 2] {
        let files = ca.write_host_files(dir.path(), id).unwrap();
        let rec = Recorder::new();
        let t = TcpTransport::start(test_config(id, Security::MutualTls(files)), std::sync::Arc::new(Handler(rec.clone())))
            .unwrap();
        nodes.push(Node { id, t, rec });
    }
    let a1 = nodes[0].t.local_addr().to_string();
    nodes[1].t.add_peer(1, a1);
    Victim { dir, ca, nodes }
}

impl Victim {
    fn addr(&self) -> std::net::SocketAddr {
        self.nodes[0].t.local_addr()
    }
    fn ca_path(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }
    /// Nothing but host 2's legitimate messages reached host 1, and host 2's
    /// latest message did.
    fn assert_only_legit(&self, tag: &str) {
        let probe = msg(&format!("legit after {tag}"));
        self.nodes[1].t.send(1, vec![(1, probe.clone())]);
        assert!(
            wait_until(Duration::from_secs(5), || self.nodes[0].rec.delivered().iter().any(|(_, _, b)| *b == probe)),
            "host 2 still reaches host 1 after {tag}"
        );
        for (from, _, b) in self.nodes[0].rec.delivered() {
            assert_eq!(from, 2, "{tag}: a message from host {from} was delivered");
            assert_ne!(&b[..], PAYLOAD, "{tag}: the forged message was delivered");
        }
    }
}

/// Dials, says Hello as `claim`, sends a frame; returns the reply or error.
fn attempt(v: &Victim, cfg: std::sync::Arc<rustls::ClientConfig>, claim: u64) -> Result<bool, String> {
    runtime().block_on(async {
        let mut conn = dial_tls(v.addr(), cfg, 1).await.map_err(|e| e.to_string())?;
        let reply = hello(&mut conn, claim, 1).await;
        write_quiet(&mut conn, &frame_record(1, PAYLOAD)).await;
        let closed = closed_within(&mut conn, Duration::from_secs(3)).await;
        let reply = reply?;
        if !reply.accepted {
            assert!(closed, "a refused dialer is disconnected");
            return Err(reply.reason);
        }
        Ok(closed)
    })
}

#[test]
fn control_a_valid_certificate_for_the_claimed_host_is_delivered() {
    let v = victim();
    let files = v.ca.write_host_files(v.dir.path(), 3).unwrap();
    let cfg = client_config(&files.ca, Some((&files.cert, &files.key)));
    assert_eq!(attempt(&v, cfg, 3), Ok(false), "accepted and kept open");
    assert!(wait_until(Duration::from_secs(5), || v.nodes[0].rec.delivered().iter().any(|m| m.0 == 3 && &m.2[..] == PAYLOAD)));
}

#[test]
fn a_client_without_a_certificate_is_refused() {
    let v = victim();
    let err = attempt(&v, client_config(&v.ca_path(), None), 3).unwrap_err();
    println!("no certificate: {err}");
    v.assert_only_legit("no certificate");
    assert!(v.nodes[0].t.stats().connections_refused >= 1);
}

#[test]
fn a_certificate_from_another_ca_is_refused() {
    let v = victim();
    let rogue = DevCa::new("rogue CA").unwrap();
    // The rogue certificate names host 3 correctly; only its CA is wrong.
    let cert = rogue.host_cert(3).unwrap();
    let files = write_files(&v.dir.path().join("rogue"), "host-3", rogue.ca_pem(), &cert).unwrap();
    let err = attempt(&v, client_config(&v.ca_path(), Some((&files.cert, &files.key))), 3).unwrap_err();
    println!("other CA: {err}");
    v.assert_only_legit("other CA");
}

#[test]
fn a_valid_certificate_claiming_another_host_is_refused() {
    let v = victim();
    let files = v.ca.write_host_files(v.dir.path(), 3).unwrap();
    let cfg = client_config(&files.ca, Some((&files.cert, &files.key)));
    // Host 3's certificate, claiming to be host 2 (who is in the cluster).
    let err = attempt(&v, cfg, 2).unwrap_err();
    assert!(err.contains(&host_dns_name(2)), "{err}");
    v.assert_only_legit("impersonation");
}

#[test]
fn a_wildcard_or_nameless_certificate_is_refused() {
    let v = victim();
    for (stem, names) in [("wild", vec!["*.polyraft".to_string()]), ("nameless", vec!["example.org".to_string()])] {
        let cert = v.ca.cert_for_names(names).unwrap();
        let files = write_files(&v.dir.path().join(stem), stem, v.ca.ca_pem(), &cert).unwrap();
        let err = attempt(&v, client_config(&files.ca, Some((&files.cert, &files.key))), 3).unwrap_err();
        println!("{stem}: {err}");
    }
    v.assert_only_legit("wildcard");
}

#[test]
fn a_transport_with_a_certificate_for_another_host_cannot_send() {
    let v = victim();
    // A real transport configured as host 3 but holding host 4's certificate.
    let files = v.ca.write_host_files(v.dir.path(), 4).unwrap();
    let rec = Recorder::new();
    let t = TcpTransport::start(test_config(3, Security::MutualTls(files)), std::sync::Arc::new(Handler(rec.clone())))
        .unwrap();
    t.add_peer(1, v.addr().to_string());
    assert!(wait_until(Duration::from_secs(5), || {
        t.send(1, vec![(1, bytes::Bytes::from_static(PAYLOAD))]);
        rec.unreachable_count(1) > 0
    }));
    v.assert_only_legit("wrong-host transport");
}

#[test]
fn a_dialer_refuses_an_acceptor_with_the_wrong_certificate() {
    let v = victim();
    // Host 2 is told that host 3 lives at host 1's address: host 1's
    // certificate does not name host 3, so host 2 must not send there.
    v.nodes[1].t.add_peer(3, v.addr().to_string());
    assert!(wait_until(Duration::from_secs(5), || {
        v.nodes[1].t.send(3, vec![(1, bytes::Bytes::from_static(PAYLOAD))]);
        v.nodes[1].rec.unreachable_count(3) > 0
    }));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(v.nodes[1].t.stats().messages_sent, 0);
    v.assert_only_legit("wrong acceptor");
}
