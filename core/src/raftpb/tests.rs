//! Wire-format tests: byte vectors written out by hand from the protobuf
//! encoding rules (tag = field << 3 | wire type; varints; length-delimited
//! submessages), so a change in field numbers or packing cannot go unseen.

use super::*;

fn roundtrip<M: prost::Message + Default + PartialEq + std::fmt::Debug>(m: &M, want: &[u8]) {
    assert_eq!(encode(m).as_ref(), want, "encoding of {m:?}");
    assert_eq!(&decode::<M>(want).unwrap(), m, "decoding of {want:02x?}");
}

#[test]
fn msg_app_with_entries() {
    let m = Message {
        r#type: MessageType::MsgApp as i32,
        to: 2,
        from: 1,
        term: 1,
        log_term: 1,
        index: 2,
        commit: 2,
        entries: vec![Entry { term: 1, index: 3, r#type: EntryType::EntryNormal as i32, data: Bytes::from_static(b"x"), ..Default::default() }],
        ..Default::default()
    };
    let want = [
        0x08, 0x03, // type = MsgApp
        0x10, 0x02, // to
        0x18, 0x01, // from
        0x20, 0x01, // term
        0x28, 0x01, // log_term
        0x30, 0x02, // index
        0x3a, 0x07, 0x10, 0x01, 0x18, 0x03, 0x22, 0x01, b'x', // entries[0]
        0x40, 0x02, // commit
    ];
    roundtrip(&m, &want);
}

#[test]
fn hard_state() {
    roundtrip(&HardState { term: 1, vote: 2, commit: 3 }, &[0x08, 0x01, 0x10, 0x02, 0x18, 0x03]);
}

#[test]
fn conf_state_ids_are_unpacked() {
    let cs = ConfState { voters: vec![1, 2], learners: vec![3], auto_leave: true, ..Default::default() };
    roundtrip(&cs, &[0x08, 0x01, 0x08, 0x02, 0x10, 0x03, 0x28, 0x01]);
    // A packed encoding (as another writer might produce) still decodes.
    let packed = [0x0a, 0x02, 0x01, 0x02, 0x10, 0x03, 0x28, 0x01];
    assert_eq!(decode::<ConfState>(&packed).unwrap(), cs);
}

#[test]
fn snapshot() {
    let s = Snapshot {
        data: Bytes::from_static(b"d"),
        metadata: Some(SnapshotMetadata {
            conf_state: Some(ConfState { voters: vec![1], ..Default::default() }),
            index: 5,
            term: 2,
        }),
    };
    let want = [0x0a, 0x01, b'd', 0x12, 0x08, 0x0a, 0x02, 0x08, 0x01, 0x10, 0x05, 0x18, 0x02];
    roundtrip(&s, &want);
    assert_eq!((s.index(), s.term()), (5, 2));
    assert!(!is_empty_snap(&s));
    assert!(is_empty_snap(&Snapshot::default()));
}

#[test]
fn etcd_style_explicit_zero_fields_decode() {
    // gogoproto (proto2, non-nullable) writes zero scalars; we must accept them.
    let hs = [0x08, 0x00, 0x10, 0x00, 0x18, 0x07];
    assert_eq!(decode::<HardState>(&hs).unwrap(), HardState { term: 0, vote: 0, commit: 7 });
}

#[test]
fn entry_size_matches_etcd_v3_7() {
    // etcd v3.7 (explicit presence) writes a proposal's entry as
    // 10 01 18 03 22 01 78: the normal type is left unset (7 bytes).
    let e = Entry { term: 1, index: 3, r#type: 0, data: Bytes::from_static(b"x"), ..Default::default() };
    assert_eq!(entry_size(&e), 7);
    assert_eq!(entry_size(&e), prost::Message::encoded_len(&e) as u64);
    // The leader's empty entry: term and index only.
    let empty = Entry { term: 300, index: 1, ..Default::default() };
    assert_eq!(entry_size(&empty), 3 + 2);
    let cc = Entry { term: 1, index: 1, r#type: EntryType::EntryConfChange as i32, data: Bytes::from_static(b"ab"), ..Default::default() };
    assert_eq!(entry_size(&cc), 2 + 2 + 2 + 4);
}

#[test]
fn bootstrap_conf_change_bytes_match_etcd() {
    // etcd v3.7's Bootstrap sets type and node id explicitly: 10 00 18 01.
    let cc = ConfChange { r#type: ConfChangeType::ConfChangeAddNode as i32, node_id: 1, ..Default::default() };
    assert_eq!(&encode_explicit_conf_change(&cc)[..], &[0x10, 0x00, 0x18, 0x01]);
    assert_eq!(decode::<ConfChange>(&encode_explicit_conf_change(&cc)).unwrap(), cc);
    let with_ctx = ConfChange { id: 7, context: Bytes::from_static(b"c"), ..cc.clone() };
    assert_eq!(&encode_explicit_conf_change(&with_ctx)[..], &[0x08, 0x07, 0x10, 0x00, 0x18, 0x01, 0x22, 0x01, b'c']);
}

#[test]
fn malformed_bytes_are_errors() {
    assert!(matches!(decode::<Message>(&[0x3a, 0x10, 0x01]), Err(Error::Decode(_))));
    assert!(matches!(decode::<Message>(&[0xff]), Err(Error::Decode(_))));
}

#[test]
fn conf_change_text_form() {
    let ccs = conf_changes_from_string("v1 l2 r3 u4").unwrap();
    assert_eq!(conf_changes_to_string(&ccs), "v1 l2 r3 u4");
    assert!(conf_changes_from_string("x1").is_err());
    assert!(conf_changes_from_string("v").is_err());
    assert!(conf_changes_from_string("vq").is_err());
}

#[test]
fn conf_change_i_conversions() {
    let v1 = ConfChange { r#type: ConfChangeType::ConfChangeAddNode as i32, node_id: 7, context: Bytes::from_static(b"c"), id: 0 };
    let cc = ConfChangeI::V1(v1.clone());
    let v2 = cc.as_v2();
    assert_eq!(v2.changes, vec![ConfChangeSingle { r#type: 0, node_id: 7 }]);
    assert_eq!(v2.context, v1.context);
    assert_eq!(v2.enter_joint(), None);
    assert!(!v2.leave_joint());
    assert_eq!(cc.as_v1(), Some(v1));
    let (t, data) = cc.marshal();
    assert_eq!(t, EntryType::EntryConfChange);
    assert_eq!(decode::<ConfChange>(&data).unwrap().node_id, 7);

    let joint = ConfChangeV2 { transition: ConfChangeTransition::JointExplicit as i32, ..Default::default() };
    assert_eq!(joint.enter_joint(), Some(false));
    assert!(ConfChangeV2::default().leave_joint());
    let bad = ConfChangeV2 { transition: 9, ..Default::default() };
    assert!(bad.check().is_err());
}

#[test]
fn conf_state_equivalence_ignores_order() {
    let a = ConfState { voters: vec![1, 2, 3], ..Default::default() };
    let b = ConfState { voters: vec![3, 1, 2], ..Default::default() };
    assert!(a.equivalent(&b).is_ok());
    let c = ConfState { voters: vec![1, 2], ..Default::default() };
    assert!(a.equivalent(&c).is_err());
}

#[test]
fn conf_change_v2_bytes_match_etcd_explicit_presence() {
    // etcd v3.7's harness: ConfChangeV2{Transition: Auto.Enum(), Changes:
    // [{Type: AddNode.Enum(), NodeId: 2}]} marshals as 08 00 12 04 08 00 10 02.
    let cc = ConfChangeV2 { changes: vec![ConfChangeSingle { r#type: 0, node_id: 2 }], ..Default::default() };
    let (t, data) = ConfChangeI::V2(cc.clone()).marshal();
    assert_eq!(t, EntryType::EntryConfChangeV2);
    assert_eq!(&data[..], &[0x08, 0x00, 0x12, 0x04, 0x08, 0x00, 0x10, 0x02]);
    assert_eq!(decode::<ConfChangeV2>(&data).unwrap(), cc);
    // A v1 change: type and node id always on the wire.
    let v1 = ConfChange { r#type: 0, node_id: 2, ..Default::default() };
    assert_eq!(&ConfChangeI::V1(v1).marshal().1[..], &[0x10, 0x00, 0x18, 0x02]);
}

#[test]
fn explicit_entry_type_is_kept_and_sized() {
    // etcd's placeholder for a refused conf change: &pb.Entry{Type: EntryNormal.Enum()}.
    let e = Entry { term: 1, index: 5, type_set: true, ..Default::default() };
    assert_eq!(entry_size(&e), 6);
    let bytes = encode(&e);
    assert_eq!(&bytes[..], &[0x08, 0x00, 0x10, 0x01, 0x18, 0x05]);
    let back = decode::<Entry>(&bytes).unwrap();
    assert!(back.type_set);
    assert_eq!(entry_size(&back), 6);
    // Without the field on the wire the type is not present.
    let plain = decode::<Entry>(&[0x10, 0x01, 0x18, 0x05]).unwrap();
    assert!(!plain.type_set);
    assert_eq!(entry_size(&plain), 4);
    // Presence is encoding detail, not part of the value.
    assert_eq!(back, plain);
}
