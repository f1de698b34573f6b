//! What `armr run` needs to know of an ELF file before it starts it: its class, byte order and
//! machine, whether it is dynamically linked (a `PT_INTERP` program header), and whether it is a
//! Go program. Only the headers, the notes and the section names are read, each bounds-checked:
//! a truncated or hostile file gives "not ELF" or "cannot tell", never a panic.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// Where the bytes come from: a file, read piecewise, or a slice in tests.
pub trait Source {
    /// The `len` bytes at `offset`, or `None` when the source holds fewer.
    fn read_at(&self, offset: u64, len: usize) -> Option<Vec<u8>>;
}

impl Source for File {
    fn read_at(&self, offset: u64, len: usize) -> Option<Vec<u8>> {
        let mut buf = vec![0; len];
        self.read_exact_at(&mut buf, offset).ok()?;
        Some(buf)
    }
}

impl Source for [u8] {
    fn read_at(&self, offset: u64, len: usize) -> Option<Vec<u8>> {
        let start = usize::try_from(offset).ok()?;
        self.get(start..start.checked_add(len)?).map(<[u8]>::to_vec)
    }
}

/// Whether the dynamic loader runs in the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linking {
    /// A `PT_INTERP` program header: the loader runs, and preloads.
    Dynamic,
    /// No `PT_INTERP` (static, static-pie): nothing preloads a library.
    Static,
    /// The program headers cannot be read.
    Unknown,
}

/// What the ELF header and the headers it points to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elf {
    /// 1: 32-bit, 2: 64-bit.
    pub class: u8,
    /// 1: little endian, 2: big endian.
    pub data: u8,
    pub machine: u16,
    pub linking: Linking,
    /// Go's build ID note (owner `Go`, type 4) or a `.go.buildinfo` section.
    pub go: bool,
}

impl Elf {
    /// Whether the loader would load a library of class `other` into this program (and the
    /// other way round): same class, byte order and machine.
    pub fn same_kind(&self, other: &Elf) -> bool {
        (self.class, self.data, self.machine) == (other.class, other.data, other.machine)
    }

    /// `64-bit x86-64`, for messages.
    pub fn kind(&self) -> String {
        let machine = match self.machine {
            3 => "x86".to_string(),
            62 => "x86-64".to_string(),
            40 => "ARM".to_string(),
            183 => "AArch64".to_string(),
            243 => "RISC-V".to_string(),
            8 => "MIPS".to_string(),
            20 => "PowerPC".to_string(),
            21 => "PowerPC64".to_string(),
            22 => "s390".to_string(),
            other => format!("machine {other}"),
        };
        let bits = if self.class == 2 { 64 } else { 32 };
        format!("{bits}-bit {machine}")
    }
}

const PT_INTERP: u32 = 3;
const PT_NOTE: u32 = 4;
const SHT_NOTE: u32 = 7;
/// `e_phnum` saying the count is in section 0's `sh_info`.
const PN_XNUM: u64 = 0xffff;
/// `e_shstrndx` saying the index is in section 0's `sh_link`.
const SHN_XINDEX: u64 = 0xffff;
/// The most this reads of one table or note segment: real ones are far smaller, and a header
/// claiming more is not worth gigabytes of memory.
const MAX_TABLE: u64 = 1 << 20;

/// Reads integers of one ELF file's byte order out of a byte slice.
struct Bytes<'a> {
    bytes: &'a [u8],
    big: bool,
}

impl Bytes<'_> {
    fn uint(&self, at: usize, len: usize) -> Option<u64> {
        let field = self.bytes.get(at..at.checked_add(len)?)?;
        let fold = |v: u64, b: &u8| v << 8 | u64::from(*b);
        Some(if self.big {
            field.iter().fold(0, fold)
        } else {
            field.iter().rev().fold(0, fold)
        })
    }

    fn u16(&self, at: usize) -> Option<u64> {
        self.uint(at, 2)
    }

    fn u32(&self, at: usize) -> Option<u64> {
        self.uint(at, 4)
    }
}

/// Field offsets and sizes of one ELF class.
struct Layout {
    wide: bool,
}

impl Layout {
    /// An address-sized field (`Elf32_Off` or `Elf64_Off`).
    fn word(&self) -> usize {
        if self.wide { 8 } else { 4 }
    }
}

/// The ELF file `source` holds, or `None` when it is not one (no magic, an unknown class or byte
/// order, a header cut short).
pub fn parse(source: &(impl Source + ?Sized)) -> Option<Elf> {
    let ident = source.read_at(0, 16)?;
    if ident[..4] != *b"\x7fELF" {
        return None;
    }
    let (class, data) = (ident[4], ident[5]);
    if !matches!(class, 1 | 2) || !matches!(data, 1 | 2) {
        return None;
    }
    let layout = Layout { wide: class == 2 };
    let header = source.read_at(0, if layout.wide { 64 } else { 52 })?;
    let h = Bytes {
        bytes: &header,
        big: data == 2,
    };
    let w = layout.word();
    let machine = h.u16(18)? as u16;
    let phoff = h.uint(24 + w, w)?;
    let shoff = h.uint(24 + 2 * w, w)?;
    let rest = 24 + 3 * w + 4; // past e_flags: e_ehsize, then the table sizes
    let (phentsize, mut phnum) = (h.u16(rest + 2)?, h.u16(rest + 4)?);
    let (shentsize, shnum, mut shstrndx) = (h.u16(rest + 6)?, h.u16(rest + 8)?, h.u16(rest + 10)?);

    let sections = Sections {
        source,
        layout: &layout,
        big: h.big,
        offset: shoff,
        entry: shentsize,
    };
    if phnum == PN_XNUM || shstrndx == SHN_XINDEX {
        // The real values are in section 0.
        let zero = sections.header(0);
        if phnum == PN_XNUM {
            phnum = zero.as_ref().map_or(0, |s| s.info);
        }
        if shstrndx == SHN_XINDEX {
            shstrndx = zero.as_ref().map_or(0, |s| s.link);
        }
    }
    let programs = program_headers(source, &layout, h.big, phoff, phentsize, phnum);
    let linking = match &programs {
        _ if phnum == 0 => Linking::Static,
        None => Linking::Unknown,
        Some(list) if list.iter().any(|p| p.kind == PT_INTERP) => Linking::Dynamic,
        Some(_) => Linking::Static,
    };
    let go_note = programs.iter().flatten().any(|p| {
        p.kind == PT_NOTE
            && p.size <= MAX_TABLE
            && source
                .read_at(p.offset, p.size as usize)
                .is_some_and(|notes| has_go_note(&notes, h.big))
    });
    let go = go_note || sections.go(shnum, shstrndx);
    Some(Elf {
        class,
        data,
        machine,
        linking,
        go,
    })
}

/// The fields of a program header this reads.
struct Program {
    kind: u32,
    offset: u64,
    size: u64,
}

/// The program header table, or `None` when it cannot be read.
fn program_headers(
    source: &(impl Source + ?Sized),
    layout: &Layout,
    big: bool,
    offset: u64,
    entry: u64,
    count: u64,
) -> Option<Vec<Program>> {
    let w = layout.word();
    // p_type, then (64-bit) p_flags, p_offset ... p_filesz; (32-bit) p_offset ... p_filesz.
    let (at_offset, at_size) = if layout.wide { (8, 32) } else { (4, 16) };
    if offset == 0 || entry < (at_size + w) as u64 || entry.checked_mul(count)? > MAX_TABLE {
        return None;
    }
    let table = source.read_at(offset, (entry * count) as usize)?;
    let t = Bytes { bytes: &table, big };
    (0..count as usize)
        .map(|i| {
            let at = i * entry as usize;
            Some(Program {
                kind: t.u32(at)? as u32,
                offset: t.uint(at + at_offset, w)?,
                size: t.uint(at + at_size, w)?,
            })
        })
        .collect()
}

/// Whether a note segment or section holds Go's build ID note: owner `Go`, type 4
/// (`NT_GO_BUILD_ID`).
fn has_go_note(notes: &[u8], big: bool) -> bool {
    let n = Bytes { bytes: notes, big };
    let align = |v: u64| v.checked_add(3).map(|v| v & !3);
    let mut at: u64 = 0;
    while let (Some(namesz), Some(descsz), Some(kind)) = (
        n.u32(at as usize),
        n.u32(at as usize + 4),
        n.u32(at as usize + 8),
    ) {
        let name = at + 12;
        let Some(name_end) = name.checked_add(namesz) else {
            return false;
        };
        // Go's linker writes the owner as "Go\0\0" (namesz 4); "Go\0" is the same owner.
        let owner = notes.get(name as usize..name_end as usize);
        if kind == 4 && matches!(owner, Some(b"Go\0" | b"Go\0\0")) {
            return true;
        }
        let next = align(namesz)
            .and_then(|a| name.checked_add(a))
            .and_then(|d| align(descsz).and_then(|a| d.checked_add(a)));
        match next {
            Some(next) if next > at => at = next,
            _ => return false,
        }
    }
    false
}

/// The section header table.
struct Sections<'a, S: Source + ?Sized> {
    source: &'a S,
    layout: &'a Layout,
    big: bool,
    offset: u64,
    entry: u64,
}

/// The fields of a section header this reads.
struct Section {
    name: u64,
    kind: u64,
    offset: u64,
    size: u64,
    link: u64,
    info: u64,
}

impl<S: Source + ?Sized> Sections<'_, S> {
    fn header(&self, index: u64) -> Option<Section> {
        let w = self.layout.word();
        // sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info.
        let size = 16 + 4 * w;
        if self.offset == 0 || self.entry < size as u64 {
            return None;
        }
        let at = self.offset.checked_add(index.checked_mul(self.entry)?)?;
        let bytes = self.source.read_at(at, size)?;
        let s = Bytes {
            bytes: &bytes,
            big: self.big,
        };
        Some(Section {
            name: s.u32(0)?,
            kind: s.u32(4)?,
            offset: s.uint(8 + 2 * w, w)?,
            size: s.uint(8 + 3 * w, w)?,
            link: s.u32(8 + 4 * w)?,
            info: s.u32(12 + 4 * w)?,
        })
    }

    /// A section named `.go.buildinfo` (what `go version FILE` reads, kept by stripped builds),
    /// or a note section holding Go's build ID.
    fn go(&self, count: u64, names_index: u64) -> bool {
        if count == 0 || count > MAX_TABLE {
            return false;
        }
        let Some(names) = self
            .header(names_index)
            .filter(|s| s.size <= MAX_TABLE)
            .and_then(|s| self.source.read_at(s.offset, s.size as usize))
        else {
            return false;
        };
        let name_of = |s: &Section| {
            let start = usize::try_from(s.name).ok()?;
            let rest = names.get(start..)?;
            Some(&rest[..rest.iter().position(|b| *b == 0)?])
        };
        (0..count).filter_map(|i| self.header(i)).any(|s| {
            name_of(&s) == Some(b".go.buildinfo")
                || (s.kind == u64::from(SHT_NOTE)
                    && s.size <= MAX_TABLE
                    && self
                        .source
                        .read_at(s.offset, s.size as usize)
                        .is_some_and(|notes| has_go_note(&notes, self.big)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    fn read(path: &str) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn a_dynamically_linked_system_program() {
        let bytes = read("/bin/true");
        let elf = parse(bytes.as_slice()).expect("/bin/true is ELF");
        assert_eq!(elf.linking, Linking::Dynamic);
        assert!(!elf.go);
        assert_eq!(
            elf.class,
            if cfg!(target_pointer_width = "64") {
                2
            } else {
                1
            }
        );
        assert_eq!(elf.data, if cfg!(target_endian = "little") { 1 } else { 2 });
        if cfg!(target_arch = "x86_64") {
            assert_eq!((elf.machine, elf.kind().as_str()), (62, "64-bit x86-64"));
        }
        // Read from the file piecewise, the same.
        let file = File::open("/bin/true").unwrap();
        assert_eq!(parse(&file), Some(elf));
        // This test binary, built by cargo, is dynamically linked too, and of the same kind.
        let me = std::env::current_exe().unwrap();
        let me = parse(&File::open(me).unwrap()).unwrap();
        assert!(me.same_kind(&elf) && me.linking == Linking::Dynamic);
    }

    /// A scratch directory of this test process.
    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("armr-elf-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_static_program() {
        let dir = scratch("static");
        let source = dir.join("s.c");
        std::fs::write(&source, "int main(void) { return 0; }\n").unwrap();
        let program = dir.join("s");
        let out = Command::new("cc")
            .arg("-static")
            .arg("-o")
            .arg(&program)
            .arg(&source)
            .output()
            .expect("cc (gcc) is installed");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let elf = parse(read(program.to_str().unwrap()).as_slice()).unwrap();
        assert_eq!((elf.linking, elf.go), (Linking::Static, false));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_go_program_plain_and_stripped() {
        let dir = scratch("go");
        let source = dir.join("main.go");
        std::fs::write(&source, "package main\n\nfunc main() {}\n").unwrap();
        for flags in [&[][..], &["-ldflags=-s -w"][..]] {
            let program = dir.join("prog");
            let out = Command::new("go")
                .arg("build")
                .args(flags)
                .arg("-o")
                .arg(&program)
                .arg(&source)
                .env("GOCACHE", dir.join("cache"))
                .env("GOPATH", dir.join("gopath"))
                .env("GO111MODULE", "off")
                .output()
                .expect("go (golang-go) is installed: scripts/install-test-deps");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let bytes = read(program.to_str().unwrap());
            let elf = parse(bytes.as_slice()).unwrap();
            assert!(elf.go, "{flags:?}");
            // Each of the two signs is enough on its own: the note alone (no section table) ...
            let mut no_sections = bytes.clone();
            let at = if elf.class == 2 { 40 } else { 32 };
            let len = if elf.class == 2 { 8 } else { 4 };
            no_sections[at..at + len].fill(0);
            assert!(
                parse(no_sections.as_slice()).unwrap().go,
                "{flags:?}: the note"
            );
            // ... and the `.go.buildinfo` section alone (no note segment, no note section).
            if elf.class == 2 && elf.data == 1 {
                let mut no_notes = bytes.clone();
                let field = |b: &[u8], at: usize, len: usize| {
                    b[at..at + len]
                        .iter()
                        .rev()
                        .fold(0usize, |v, x| v << 8 | *x as usize)
                };
                let (phoff, phnum) = (field(&bytes, 32, 8), field(&bytes, 56, 2));
                for i in 0..phnum {
                    let at = phoff + i * 56;
                    if field(&bytes, at, 4) == PT_NOTE as usize {
                        no_notes[at..at + 4].fill(0); // PT_NULL
                    }
                }
                let (shoff, shnum) = (field(&bytes, 40, 8), field(&bytes, 60, 2));
                for i in 0..shnum {
                    let at = shoff + i * 64 + 4;
                    if field(&bytes, at, 4) == SHT_NOTE as usize {
                        no_notes[at..at + 4].copy_from_slice(&1u32.to_le_bytes()); // PROGBITS
                    }
                }
                let elf = parse(no_notes.as_slice()).unwrap();
                assert!(elf.go, "{flags:?}: .go.buildinfo");
                // Neither: not Go.
                let buildinfo = no_notes
                    .windows(13)
                    .position(|w| w == b".go.buildinfo")
                    .unwrap();
                no_notes[buildinfo + 1] = b'x';
                assert!(!parse(no_notes.as_slice()).unwrap().go, "{flags:?}: none");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn not_elf() {
        for bytes in [
            &b""[..],
            b"\x7fEL",
            b"#!/bin/sh\nexit 0\n",
            b"\x7fELF\x03\x01\x01\0\0\0\0\0\0\0\0\0",
            b"\x7fELF\x02\x03\x01\0\0\0\0\0\0\0\0\0",
            b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0 too short for a header",
        ] {
            assert_eq!(parse(bytes), None, "{bytes:?}");
        }
    }

    /// Every prefix of a real program, and that program with bytes of its headers overwritten
    /// (a fixed pseudo-random sequence): never a panic, and a header cut short is not ELF.
    #[test]
    fn truncated_and_garbled_files_never_panic() {
        let mut programs = vec![read("/bin/true")];
        if Path::new("/bin/sh").exists() {
            programs.push(read("/bin/sh"));
        }
        for bytes in &programs {
            for len in 0..bytes.len().min(4096) {
                let elf = parse(&bytes[..len]);
                if len < 64 {
                    assert_eq!(elf, None, "{len}");
                }
            }
            let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
            let mut next = || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            for _ in 0..20_000 {
                let mut garbled = bytes.clone();
                for _ in 0..1 + next() % 8 {
                    // Mostly the ELF header, sometimes the tables it points to.
                    let span = if next() % 4 == 0 { 4096 } else { 64 };
                    let at = (next() % span) as usize % garbled.len();
                    garbled[at] = next() as u8;
                }
                let _ = parse(garbled.as_slice());
            }
        }
        let mut state: u64 = 1;
        for len in [16, 52, 64, 200, 4096] {
            for _ in 0..2_000 {
                let mut bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1);
                        (state >> 33) as u8
                    })
                    .collect();
                bytes[..4].copy_from_slice(b"\x7fELF");
                bytes[4] = 1 + (state % 2) as u8;
                bytes[5] = 1 + (state >> 1) as u8 % 2;
                let _ = parse(bytes.as_slice());
            }
        }
    }

    #[test]
    fn huge_counts_and_offsets_are_cannot_tell_not_allocations() {
        let mut bytes = read("/bin/true");
        let elf = parse(bytes.as_slice()).unwrap();
        if elf.class != 2 || elf.data != 1 {
            return; // the offsets below are ELF64 little endian
        }
        // e_phoff far past the end: cannot tell.
        bytes[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(parse(bytes.as_slice()).unwrap().linking, Linking::Unknown);
        // No program headers at all: nothing asks for a loader.
        let mut none = read("/bin/true");
        none[56..58].copy_from_slice(&0u16.to_le_bytes());
        assert_eq!(parse(none.as_slice()).unwrap().linking, Linking::Static);
        // PN_XNUM with a section 0 that says 0xffffffff entries: too many to read.
        let mut xnum = read("/bin/true");
        xnum[56..58].copy_from_slice(&0xffffu16.to_le_bytes());
        let shoff = u64::from_le_bytes(xnum[40..48].try_into().unwrap()) as usize;
        if shoff + 64 <= xnum.len() {
            xnum[shoff + 44..shoff + 48].copy_from_slice(&u32::MAX.to_le_bytes());
            assert_eq!(parse(xnum.as_slice()).unwrap().linking, Linking::Unknown);
        }
    }
}
