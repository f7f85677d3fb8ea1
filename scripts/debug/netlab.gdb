# netlab's gdb settings for stepping through one exchange (docs/debugging.md).
# Load it with:  rust-gdb -x scripts/debug/netlab.gdb --args target/debug/netlab …
# (gdb does not auto-load a .gdbinit from the project directory unless you allow it with
# add-auto-load-safe-path in ~/.gdbinit: passing -x is the simple way; make debug does.)

# gdb 13 (Debian 12) can dump core while printing the value `finish` returns from some of
# netlab's parsers: keep it in the value history instead, and print it with `p $`.
set print finish off
# One screen at a time is for reading, not for scripts and long structs.
set pagination off
set confirm off
set print pretty off
# Only netlab's threads matter; the new-thread chatter hides the trace.
set print thread-events off

# `text EXPR` prints a buffer of bytes (&[u8], Vec<u8>, [u8; N]) as text, escaped like
# the trace (\r\n, \xNN), instead of a list of numbers.  `text EXPR N` prints at most N bytes.
python
import gdb

def _bytes_of(val, limit):
    # &Vec<u8>, *const [u8; N]: look at what they point to. (A Rust &[u8] is not a pointer
    # to gdb but a struct {data_ptr, length}, handled below.)
    while val.type.strip_typedefs().code in (gdb.TYPE_CODE_PTR, gdb.TYPE_CODE_REF):
        if val.type.strip_typedefs().target().strip_typedefs().code == gdb.TYPE_CODE_INT:
            raise gdb.GdbError("text: a pointer to one byte has no length; try x/32s or x/32xb")
        val = val.referenced_value()
    ty = val.type.strip_typedefs()
    names = [f.name for f in ty.fields()] if ty.code == gdb.TYPE_CODE_STRUCT else []
    # A slice &[u8]: { data_ptr, length }.
    if 'data_ptr' in names and 'length' in names:
        n = min(int(val['length']), limit)
        mem = gdb.selected_inferior().read_memory(val['data_ptr'], n) if n else b''
        return bytes(mem), int(val['length'])
    if ty.code == gdb.TYPE_CODE_ARRAY:
        n = ty.sizeof
        mem = gdb.selected_inferior().read_memory(val.address, min(n, limit))
        return bytes(mem), n
    # Anything else Rust's pretty-printers show as a list (Vec<u8>, VecDeque, BytesMut …).
    vis = gdb.default_visualizer(val)
    if vis is not None and hasattr(vis, 'children'):
        out, total = bytearray(), 0
        for _, child in vis.children():
            total += 1
            if len(out) < limit:
                out.append(int(child) & 0xff)
        return bytes(out), total
    raise gdb.GdbError("text: %s is not a buffer of bytes" % ty)

def _escape(b):
    out = []
    for c in b:
        if c == 0x0d: out.append('\\r')
        elif c == 0x0a: out.append('\\n')
        elif c == 0x09: out.append('\\t')
        elif c == 0x5c: out.append('\\\\')
        elif 0x20 <= c < 0x7f: out.append(chr(c))
        else: out.append('\\x%02x' % c)
    return ''.join(out)

class Text(gdb.Command):
    """text EXPR [N]: print the bytes of EXPR (&[u8], Vec<u8>, [u8; N]) as escaped text."""
    def __init__(self):
        super().__init__("text", gdb.COMMAND_DATA, gdb.COMPLETE_EXPRESSION)
    def invoke(self, arg, from_tty):
        parts = arg.rsplit(None, 1)
        limit = 4096
        if len(parts) == 2 and parts[1].isdigit():
            arg, limit = parts[0], int(parts[1])
        data, total = _bytes_of(gdb.parse_and_eval(arg), limit)
        more = '' if total <= len(data) else ' …(%d more)' % (total - len(data))
        print('%d bytes: "%s"%s' % (total, _escape(data), more))

Text()
end
