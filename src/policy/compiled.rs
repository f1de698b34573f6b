//! Compiled policy files: a policy's lookup structures and the rules' event data, laid out so
//! that the library maps the file read-only and looks up in the mapped bytes.
//!
//! Layout (docs/compiled.md): an 80-byte [`Header`] (magic, format version, the byte order and
//! pointer width it was written for, the number of sections, the file's length, counts, the
//! digest of the rest), a table of `(offset, length)` per section, then the sections, each an
//! array of plain values aligned to 16 bytes. Loading checks the header and the table only
//! (bounds, alignment, sizes that agree): O(sections), whatever the number of rules. The values
//! themselves are not checked at load; every lookup is bounded, so a corrupt value can give a
//! wrong rank but never a crash or an access out of the file. What keeps the values intact is
//! how the file is written (a new file renamed into place, never changed in place) and
//! [`verify`], which `armr explain` runs: the SHA-256 of everything after the header.

use super::store::Pod;
use crate::digest;
use crate::event::{EventRule, Metadata};
use crate::language::{
    Action, AddressPattern, App, Condition, Dialect, HostPattern, IpFamily, LanguageVersion,
    Location, LogMetadata, PortPattern, Severity, SocketRule,
};
use std::net::IpAddr;
use std::sync::Arc;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// The first eight bytes of every compiled policy file.
pub const MAGIC: [u8; 8] = *b"ARMRPOL\0";
/// The layout this armr writes and reads; another one is refused (compile the rules again).
pub const FORMAT: u32 = 3;
/// Written in the file's own byte order: read back as another number on a machine of the other.
const BYTE_ORDER: u32 = 0x0102_0304;
const ALIGN: usize = 16;
/// The sections of a file: 29 per event kind (see `KindIndex::write`), then the rules, the apps
/// and the provenance.
pub const SECTIONS: u32 = 4 * 29 + 5;

#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Header {
    magic: [u8; 8],
    format: u32,
    byte_order: u32,
    pointer_bits: u32,
    sections: u32,
    file_len: u64,
    rules: u32,
    apps: u32,
    /// Bit 0: some rule asks for stack traces.
    flags: u32,
    reserved: u32,
    /// SHA-256 of every byte after the header.
    digest: [u8; 32],
}

const HEADER: usize = std::mem::size_of::<Header>();

#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Section {
    offset: u64,
    len: u64,
}

/// Collects the sections of a file being written.
#[derive(Default)]
pub struct Writer {
    sections: Vec<Vec<u8>>,
}

impl Writer {
    pub fn section<T: Pod>(&mut self, values: &[T]) {
        self.sections.push(values.as_bytes().to_vec());
    }

    /// The whole file.
    fn finish(self, rules: u32, apps: u32, flags: u32) -> Vec<u8> {
        let table = HEADER + self.sections.len() * std::mem::size_of::<Section>();
        let mut offset = table.next_multiple_of(ALIGN);
        let mut entries = Vec::with_capacity(self.sections.len());
        for s in &self.sections {
            entries.push(Section {
                offset: offset as u64,
                len: s.len() as u64,
            });
            offset = (offset + s.len()).next_multiple_of(ALIGN);
        }
        let mut out = vec![0u8; HEADER];
        out.extend_from_slice(entries.as_bytes());
        for (s, e) in self.sections.iter().zip(&entries) {
            out.resize(e.offset as usize, 0);
            out.extend_from_slice(s);
        }
        let header = Header {
            magic: MAGIC,
            format: FORMAT,
            byte_order: BYTE_ORDER,
            pointer_bits: usize::BITS,
            sections: self.sections.len() as u32,
            file_len: out.len() as u64,
            rules,
            apps,
            flags,
            reserved: 0,
            digest: digest::sha256(&out[HEADER..]),
        };
        out[..HEADER].copy_from_slice(header.as_bytes());
        out
    }
}

/// Hands out the sections of a mapped file in order, each checked for bounds, alignment and size.
pub struct Reader {
    bytes: &'static [u8],
    table: &'static [Section],
    next: usize,
}

impl Reader {
    pub fn section<T: Pod>(&mut self) -> Result<&'static [T], String> {
        let n = self.next;
        let e = self
            .table
            .get(n)
            .ok_or_else(|| format!("section {n} is missing"))?;
        self.next += 1;
        let bytes = usize::try_from(e.offset)
            .ok()
            .zip(usize::try_from(e.len).ok())
            .and_then(|(offset, len)| self.bytes.get(offset..offset.checked_add(len)?))
            .ok_or_else(|| format!("section {n} lies outside the file"))?;
        <[T]>::ref_from_bytes(bytes).map_err(|_| {
            format!(
                "section {n} is misaligned or not a whole number of {}-byte values",
                std::mem::size_of::<T>()
            )
        })
    }
}

/// What a compiled file was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The armr version that compiled it.
    pub version: String,
    /// When, in seconds since the Unix epoch.
    pub built: u64,
    /// Each rules file, with the SHA-256 (hex) of its bytes.
    pub sources: Vec<(String, String)>,
}

impl Provenance {
    /// The provenance of rules compiled now from `files`, by this armr.
    pub fn of_files(files: &[std::path::PathBuf]) -> Provenance {
        Provenance {
            version: env!("CARGO_PKG_VERSION").into(),
            built: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            sources: files
                .iter()
                .map(|f| {
                    let digest = std::fs::read(f)
                        .map(|bytes| digest::hex(&digest::sha256(&bytes)))
                        .unwrap_or_else(|e| format!("unreadable ({e})"));
                    (f.display().to_string(), digest)
                })
                .collect(),
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Encoder::default();
        out.str(&self.version);
        out.bytes(&self.built.to_le_bytes());
        out.u32(self.sources.len() as u32);
        for (path, digest) in &self.sources {
            out.str(path);
            out.str(digest);
        }
        out.0
    }

    fn decode(bytes: &[u8]) -> Option<Provenance> {
        let mut d = Decoder(bytes);
        let version = d.string()?;
        let built = u64::from_le_bytes(d.take(8)?.try_into().ok()?);
        let n = d.u32()?;
        let mut sources = Vec::new();
        for _ in 0..n {
            sources.push((d.string()?, d.string()?));
        }
        Some(Provenance {
            version,
            built,
            sources,
        })
    }
}

/// True when the file at `path` starts with [`MAGIC`] (a regular file only: a FIFO is never
/// opened here, as it would block).
pub fn is_compiled(path: &std::path::Path) -> bool {
    use std::io::Read;
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut magic = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| magic == MAGIC)
}

/// Reads a compiled file into memory that lives as long as the process (for the `armr` command
/// and tests; the library maps the file instead). Aligned for every section.
pub fn read_file(path: &std::path::Path) -> Result<&'static [u8], String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut words = vec![0u128; bytes.len().div_ceil(16)];
    words.as_mut_bytes()[..bytes.len()].copy_from_slice(&bytes);
    let leaked: &'static [u128] = Vec::leak(words);
    Ok(&leaked.as_bytes()[..bytes.len()])
}

/// Writes `bytes` to `path` atomically: into a new file beside it, then renamed over it, so that
/// a process mapping `path` sees the old file or the new one, never a part of one, and a file
/// once mapped is never changed under it. Read-only (0444): nothing edits it in place.
pub fn write_file(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(&temporary)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// The checked parts of a mapped file: its sections and counts.
pub struct Opened {
    pub(super) reader: Reader,
    pub rules: u32,
    pub apps: u32,
    pub stacktrace: bool,
}

/// Checks the header and the section table of `bytes` (O(sections)).
pub fn open(bytes: &'static [u8]) -> Result<Opened, String> {
    if bytes.len() < 8 || bytes[..8] != MAGIC {
        return Err("not a compiled armr policy (no ARMRPOL magic)".into());
    }
    let header = Header::read_from_prefix(bytes)
        .map(|(h, _)| h)
        .map_err(|_| format!("truncated: {} bytes, shorter than its header", bytes.len()))?;
    if header.byte_order != BYTE_ORDER || header.pointer_bits != usize::BITS {
        let what = if header.byte_order == BYTE_ORDER {
            format!("{}-bit pointers", header.pointer_bits)
        } else if header.byte_order.swap_bytes() == BYTE_ORDER {
            "the other byte order".into()
        } else {
            "an unknown byte order".into()
        };
        return Err(format!(
            "compiled for another architecture ({what}; this is {}-bit {}-endian): compile the rules again with `armr compile`",
            usize::BITS,
            if cfg!(target_endian = "little") {
                "little"
            } else {
                "big"
            }
        ));
    }
    if header.format != FORMAT {
        return Err(format!(
            "format version {}, this armr reads version {FORMAT}: compile the rules again with `armr compile`",
            header.format
        ));
    }
    if header.file_len != bytes.len() as u64 {
        return Err(format!(
            "truncated or extended: its header says {} bytes, the file has {}",
            header.file_len,
            bytes.len()
        ));
    }
    if header.sections != SECTIONS {
        return Err(format!(
            "{} sections, format {FORMAT} has {SECTIONS}",
            header.sections
        ));
    }
    let table_len = SECTIONS as usize * std::mem::size_of::<Section>();
    let table = bytes
        .get(HEADER..HEADER + table_len)
        .and_then(|t| <[Section]>::ref_from_bytes(t).ok())
        .ok_or("its section table lies outside the file")?;
    Ok(Opened {
        reader: Reader {
            bytes,
            table,
            next: 0,
        },
        rules: header.rules,
        apps: header.apps,
        stacktrace: header.flags & 1 != 0,
    })
}

/// Checks the digest of everything after the header: O(file), for `armr explain`, never at load.
pub fn verify(bytes: &[u8]) -> Result<(), String> {
    let header = Header::read_from_prefix(bytes)
        .map(|(h, _)| h)
        .map_err(|_| "truncated".to_string())?;
    if digest::sha256(&bytes[HEADER..]) != header.digest {
        return Err("its digest does not match its contents: the file is corrupt".into());
    }
    Ok(())
}

/// Assembles a file from the kinds' sections (written by the caller into `writer`) and the rules.
pub fn finish(
    mut writer: Writer,
    apps: &[App],
    order: &[(u32, u32)],
    provenance: &Provenance,
) -> Vec<u8> {
    let (mut offsets, mut bytes) = (vec![0u64], Vec::new());
    let mut stacktrace = false;
    for &(a, r) in order {
        let app = &apps[a as usize];
        let rule = &app.rules[r as usize];
        stacktrace |= rule.stacktrace;
        bytes.extend(encode_rule(a, rule));
        offsets.push(bytes.len() as u64);
    }
    writer.section(&offsets);
    writer.section(&bytes);
    let (mut offsets, mut bytes) = (vec![0u64], Vec::new());
    for app in apps {
        bytes.extend(encode_app(app));
        offsets.push(bytes.len() as u64);
    }
    writer.section(&offsets);
    writer.section(&bytes);
    writer.section(&provenance.encode());
    writer.finish(order.len() as u32, apps.len() as u32, u32::from(stacktrace))
}

/// The rules and apps of a mapped file, decoded on demand.
#[derive(Debug)]
pub struct Records {
    rule_offsets: &'static [u64],
    rule_bytes: &'static [u8],
    app_offsets: &'static [u64],
    app_bytes: &'static [u8],
    provenance: &'static [u8],
}

impl Records {
    pub(super) fn read(input: &mut Reader) -> Result<Records, String> {
        Ok(Records {
            rule_offsets: input.section()?,
            rule_bytes: input.section()?,
            app_offsets: input.section()?,
            app_bytes: input.section()?,
            provenance: input.section()?,
        })
    }

    /// True when there is a record per rule and per app.
    pub(super) fn counts(&self, rules: u32, apps: u32) -> bool {
        self.rule_offsets.len() == rules as usize + 1 && self.app_offsets.len() == apps as usize + 1
    }

    fn record(offsets: &[u64], bytes: &'static [u8], i: usize) -> Option<&'static [u8]> {
        let start = usize::try_from(*offsets.get(i)?).ok()?;
        let end = usize::try_from(*offsets.get(i + 1)?).ok()?;
        bytes.get(start..end)
    }

    /// Rule `order`: its app's index and the rule. `None` when the record is unreadable.
    pub fn rule(&self, order: u32) -> Option<RuleRecord> {
        decode_rule(Records::record(
            self.rule_offsets,
            self.rule_bytes,
            order as usize,
        )?)
    }

    /// App `i`, without its rules.
    pub fn app(&self, i: u32) -> Option<App> {
        decode_app(Records::record(
            self.app_offsets,
            self.app_bytes,
            i as usize,
        )?)
    }

    /// Rule `order` as its events write it, read in place from the file: no allocation (an
    /// event may be written in a signal handler that interrupted `malloc`). `None` when its
    /// record or its app's does not decode, as for [`rule`](Self::rule).
    pub fn event_rule(&self, order: u32) -> Option<EventRule<'static>> {
        let rule = read_rule(Records::record(
            self.rule_offsets,
            self.rule_bytes,
            order as usize,
        )?)?;
        let app = read_app(Records::record(
            self.app_offsets,
            self.app_bytes,
            rule.app as usize,
        )?)?;
        Some(EventRule {
            app_name: app.name,
            language: app.language,
            app_version: app.version,
            name: rule.name,
            message: rule.message,
            severity: rule.severity,
            stacktrace: rule.stacktrace,
            log_metadata: Metadata::Record {
                app: if rule.shares_app {
                    app.entries
                } else {
                    Pairs::EMPTY
                },
                own: rule.own,
            },
        })
    }

    pub fn provenance(&self) -> Option<Provenance> {
        Provenance::decode(self.provenance)
    }
}

// --- the records: little-endian, length-prefixed, read with every access checked

#[derive(Default)]
struct Encoder(Vec<u8>);

impl Encoder {
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.bytes(s.as_bytes());
    }
    fn pairs<'p>(&mut self, pairs: impl ExactSizeIterator<Item = (&'p str, &'p str)>) {
        self.u32(pairs.len() as u32);
        for (k, v) in pairs {
            self.str(k);
            self.str(v);
        }
    }
    fn location(&mut self, l: &Location) {
        self.str(&l.file);
        self.u32(l.line);
        self.u32(l.column);
    }
    fn ip(&mut self, ip: &IpAddr) {
        match ip {
            IpAddr::V4(a) => {
                self.u8(4);
                self.bytes(&a.octets());
            }
            IpAddr::V6(a) => {
                self.u8(6);
                self.bytes(&a.octets());
            }
        }
    }
    fn address(&mut self, a: Option<&AddressPattern>) {
        let Some(a) = a else {
            return self.u8(0);
        };
        match &a.host {
            HostPattern::Any(IpFamily::V4) => self.u8(1),
            HostPattern::Any(IpFamily::V6) => self.u8(2),
            HostPattern::Ip(ip) => {
                self.u8(3);
                self.ip(ip);
            }
            HostPattern::Cidr {
                network,
                prefix_len,
            } => {
                self.u8(4);
                self.ip(network);
                self.u8(*prefix_len);
            }
            HostPattern::Name(name) => {
                self.u8(5);
                self.str(name);
            }
        }
        let (tag, lo, hi) = match a.port {
            PortPattern::Any => (0, 0, 0),
            PortPattern::Exact(p) => (1, p, p),
            PortPattern::Range(lo, hi) => (2, lo, hi),
        };
        self.u8(tag);
        self.u16(lo);
        self.u16(hi);
    }
}

#[derive(Clone)]
struct Decoder<'a>(&'a [u8]);

impl<'a> Decoder<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    /// A string in place: a slice of the record once checked to be UTF-8.
    fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).ok()
    }
    fn string(&mut self) -> Option<String> {
        self.str().map(String::from)
    }
    /// The pairs in place, each string checked.
    fn pairs_in_place(&mut self) -> Option<Pairs<'a>> {
        let len = self.u32()?;
        let start = self.0;
        for _ in 0..len {
            self.str()?;
            self.str()?;
        }
        let bytes = &start[..start.len() - self.0.len()];
        Some(Pairs { bytes, len })
    }
    fn location_in_place(&mut self) -> Option<LocationRef<'a>> {
        Some(LocationRef(self.str()?, self.u32()?, self.u32()?))
    }
    fn ip(&mut self) -> Option<IpAddr> {
        match self.u8()? {
            4 => Some(IpAddr::from(<[u8; 4]>::try_from(self.take(4)?).ok()?)),
            6 => Some(IpAddr::from(<[u8; 16]>::try_from(self.take(16)?).ok()?)),
            _ => None,
        }
    }
    /// `Some(None)`: no address written.
    fn address_in_place(&mut self) -> Option<Option<AddressRef<'a>>> {
        let host = match self.u8()? {
            0 => return Some(None),
            1 => HostRef::Pattern(HostPattern::Any(IpFamily::V4)),
            2 => HostRef::Pattern(HostPattern::Any(IpFamily::V6)),
            3 => HostRef::Pattern(HostPattern::Ip(self.ip()?)),
            4 => HostRef::Pattern(HostPattern::Cidr {
                network: self.ip()?,
                prefix_len: self.u8()?,
            }),
            5 => HostRef::Name(self.str()?),
            _ => return None,
        };
        let (tag, lo, hi) = (self.u8()?, self.u16()?, self.u16()?);
        let port = match tag {
            0 => PortPattern::Any,
            1 => PortPattern::Exact(lo),
            2 => PortPattern::Range(lo, hi),
            _ => return None,
        };
        Some(Some(AddressRef { host, port }))
    }
}

// --- records read in place: one reading of each record, which `armr explain` turns into the
// model (allocating) and an event uses as it is (allocating nothing), so that a record is
// unreadable for both in exactly the same cases.

/// A location as a record holds it.
struct LocationRef<'a>(&'a str, u32, u32);

impl LocationRef<'_> {
    fn to_location(&self) -> Location {
        Location {
            file: Arc::from(self.0),
            line: self.1,
            column: self.2,
        }
    }
}

/// A host as a record holds it: a hostname borrowed from the file.
enum HostRef<'a> {
    Pattern(HostPattern),
    Name(&'a str),
}

struct AddressRef<'a> {
    host: HostRef<'a>,
    port: PortPattern,
}

impl AddressRef<'_> {
    fn to_address(&self) -> AddressPattern {
        let host = match &self.host {
            HostRef::Pattern(host) => host.clone(),
            HostRef::Name(name) => HostPattern::Name(name.to_string()),
        };
        AddressPattern {
            host,
            port: self.port,
        }
    }
}

enum ConditionRef<'a> {
    Accept(AddressRef<'a>),
    Connect(AddressRef<'a>),
    Bind {
        client: Option<AddressRef<'a>>,
        server: Option<AddressRef<'a>>,
    },
}

/// A rule record read in place.
struct RuleRef<'a> {
    app: u32,
    name: &'a str,
    condition: ConditionRef<'a>,
    action: Action,
    message: Option<&'a str>,
    severity: Severity,
    stacktrace: bool,
    shares_app: bool,
    own: Pairs<'a>,
    location: LocationRef<'a>,
}

fn read_rule(bytes: &[u8]) -> Option<RuleRef<'_>> {
    let mut d = Decoder(bytes);
    let app = d.u32()?;
    let name = d.str()?;
    let condition = match d.u8()? {
        0 => ConditionRef::Accept(d.address_in_place()??),
        1 => ConditionRef::Connect(d.address_in_place()??),
        2 => ConditionRef::Bind {
            client: d.address_in_place()?,
            server: d.address_in_place()?,
        },
        _ => return None,
    };
    let action = *Action::ALL.get(usize::from(d.u8()?))?;
    let message = match d.u8()? {
        0 => None,
        _ => Some(d.str()?),
    };
    Some(RuleRef {
        app,
        name,
        condition,
        action,
        message,
        severity: *Severity::ALL.get(usize::from(d.u8()?))?,
        stacktrace: d.u8()? != 0,
        shares_app: d.u8()? != 0,
        own: d.pairs_in_place()?,
        location: d.location_in_place()?,
    })
}

/// An app record read in place.
struct AppRef<'a> {
    name: &'a str,
    language: LanguageVersion,
    version: u32,
    entries: Pairs<'a>,
    location: LocationRef<'a>,
}

fn read_app(bytes: &[u8]) -> Option<AppRef<'_>> {
    let mut d = Decoder(bytes);
    let name = d.str()?;
    let dialect = match d.u8()? {
        0 => Dialect::Armr,
        1 => Dialect::Rampart,
        _ => return None,
    };
    let language = LanguageVersion {
        dialect,
        major: d.u8()?,
        minor: d.u8()?,
    };
    Some(AppRef {
        name,
        language,
        version: d.u32()?,
        entries: d.pairs_in_place()?,
        location: d.location_in_place()?,
    })
}

/// The `(key, value)` pairs, owned.
fn owned_pairs(pairs: Pairs<'_>) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn encode_rule(app: u32, rule: &SocketRule) -> Vec<u8> {
    let mut e = Encoder::default();
    e.u32(app);
    e.str(&rule.name);
    match &rule.condition {
        Condition::Accept(a) => {
            e.u8(0);
            e.address(Some(a));
        }
        Condition::Connect(a) => {
            e.u8(1);
            e.address(Some(a));
        }
        Condition::Bind { client, server } => {
            e.u8(2);
            e.address(client.as_ref());
            e.address(server.as_ref());
        }
    }
    e.u8(rule.action as u8);
    match &rule.message {
        Some(m) => {
            e.u8(1);
            e.str(m);
        }
        None => e.u8(0),
    }
    e.u8(rule.severity as u8);
    e.u8(u8::from(rule.stacktrace));
    // The app's entries are the app record's; the rule keeps whether it has them and its own.
    e.u8(u8::from(!rule.log_metadata.app_entries().is_empty()));
    let own: Vec<(&str, &str)> = rule.log_metadata.own().collect();
    e.pairs(own.into_iter());
    e.location(&rule.location);
    e.0
}

fn decode_rule(bytes: &[u8]) -> Option<RuleRecord> {
    let r = read_rule(bytes)?;
    let condition = match &r.condition {
        ConditionRef::Accept(a) => Condition::Accept(a.to_address()),
        ConditionRef::Connect(a) => Condition::Connect(a.to_address()),
        ConditionRef::Bind { client, server } => Condition::Bind {
            client: client.as_ref().map(AddressRef::to_address),
            server: server.as_ref().map(AddressRef::to_address),
        },
    };
    Some(RuleRecord {
        app: r.app,
        shares_app: r.shares_app,
        own: owned_pairs(r.own),
        rule: SocketRule {
            name: r.name.into(),
            condition,
            action: r.action,
            message: r.message.map(Box::from),
            severity: r.severity,
            stacktrace: r.stacktrace,
            log_metadata: LogMetadata::default(),
            location: r.location.to_location(),
        },
    })
}

/// A rule as its record holds it: its log metadata is completed from its app's
/// ([`RuleRecord::with_app`]), which the app's record holds once.
pub struct RuleRecord {
    /// The index of the rule's app.
    pub app: u32,
    shares_app: bool,
    own: Vec<(String, String)>,
    rule: SocketRule,
}

impl RuleRecord {
    /// The rule, its log metadata the app's entries (when it has them) overlaid with its own.
    pub fn with_app(self, app: &App) -> SocketRule {
        let entries = if self.shares_app {
            app.log_metadata.clone()
        } else {
            Arc::from(Vec::new())
        };
        SocketRule {
            log_metadata: LogMetadata::overlay(entries, self.own),
            ..self.rule
        }
    }
}

fn encode_app(app: &App) -> Vec<u8> {
    let mut e = Encoder::default();
    e.str(&app.name);
    e.u8(match app.language.dialect {
        Dialect::Armr => 0,
        Dialect::Rampart => 1,
    });
    e.u8(app.language.major);
    e.u8(app.language.minor);
    e.u32(app.version);
    e.pairs(
        app.log_metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    e.location(&app.location);
    e.0
}

fn decode_app(bytes: &[u8]) -> Option<App> {
    let a = read_app(bytes)?;
    Some(App {
        name: a.name.to_string(),
        language: a.language,
        version: a.version,
        log_metadata: owned_pairs(a.entries).into(),
        rules: Vec::new(),
        location: a.location.to_location(),
    })
}

/// Length-prefixed `(key, value)` pairs of a record, read in place: every string was checked to
/// be UTF-8 when the record was read (`read_rule`, `read_app`).
#[derive(Clone, Copy, Debug)]
pub struct Pairs<'a> {
    bytes: &'a [u8],
    len: u32,
}

impl<'a> Pairs<'a> {
    pub const EMPTY: Pairs<'static> = Pairs { bytes: &[], len: 0 };

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> PairsIter<'a> {
        PairsIter(Decoder(self.bytes))
    }

    /// The value of `key`, when one of the pairs has it.
    pub fn value(&self, key: &str) -> Option<&'a str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

/// The pairs of a [`Pairs`], in written order.
#[derive(Clone)]
pub struct PairsIter<'a>(Decoder<'a>);

impl<'a> Iterator for PairsIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        Some((self.0.str()?, self.0.str()?))
    }
}

/// What a look at a rules source (`ARMR_RULES`: a file, or a directory of them) finds against
/// the digests of the policy in force (`applied`): both engines' live reload decide on it.
#[derive(Debug)]
pub enum Reread {
    /// The files hash as the policy in force: touched, or changed back.
    Unchanged,
    /// They cannot be read or do not load: the policy in force is kept. The first error.
    Refused(String),
    /// They load: the rules, and the files' digests (`Provenance::of_files`).
    Loaded(Box<crate::language::Load>, Vec<(String, String)>),
}

/// Reads the rules at `path` again, unless their digests ([`Provenance::of_files`]) are
/// `applied`'s ([`Reread`]).
pub fn reread(path: &std::path::Path, applied: Option<&[(String, String)]>) -> Reread {
    let files = match crate::config::rule_files(path) {
        Ok(files) => files,
        Err(e) => return Reread::Refused(format!("ARMR_RULES={e}")),
    };
    let digests = Provenance::of_files(&files).sources;
    if applied == Some(digests.as_slice()) {
        return Reread::Unchanged;
    }
    let load = crate::language::load_paths(&files);
    if !load.is_ok() {
        return Reread::Refused(
            load.first_error()
                .unwrap_or_else(|| "the rules do not load".into()),
        );
    }
    Reread::Loaded(Box::new(load), digests)
}
