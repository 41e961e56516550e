//! Parse arbitrary bytes as GGUF and walk everything a successful parse hands out: every
//! metadata value (recursively through arrays, by every accessor), every tensor and its blocks.
//! Parsing must never panic, hang or allocate without bound; whatever it accepts must be
//! internally consistent.
#![no_main]

use std::fmt::Write as _;

use emberlm_models::gguf::MAX_ARRAY_DEPTH;
use emberlm_models::{ArrayView, Gguf, GgufWriter, TensorView, Value, ValueType};
use emberlm_quant::{Format, QuantType, formats::*};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(g) = Gguf::parse(data) else { return };
    assert!(matches!(g.version(), 2 | 3));
    assert!(g.alignment().is_power_of_two());
    assert_eq!(g.data_offset() % g.alignment() as usize, 0);

    let mut sink = String::new();
    for e in g.metadata() {
        // (values are not compared with `==`: NaN != NaN)
        assert_eq!(g.entry(e.key).map(|x| x.offset), Some(e.offset));
        walk(&e.value, 0, &mut sink);
        write!(sink, "{} = {}", e.key, e.value).unwrap();
        // every typed accessor either succeeds or names the type it found
        let _ = (g.get_u32(e.key), g.get_u64(e.key), g.get_f32(e.key), g.get_bool(e.key));
        let _ = (g.get_str(e.key), g.get_array(e.key));
    }

    let mut end = 0usize;
    for t in g.tensors() {
        check_tensor(&g, t, data.len());
        end = end.max(t.file_offset() + t.bytes().len());
    }
    assert!(end <= data.len());

    // Whatever parses, the writer can write; the reader reads back the same entries, and
    // writing again is a fixed point. (Only for alignments that keep the output small: a file
    // may legitimately ask for 2 GiB alignment, and the writer would pad to it.)
    if g.alignment() > 4096 {
        return;
    }
    let bytes = GgufWriter::from_gguf(&g).to_bytes().expect("a parsed file is writable");
    let back = Gguf::parse(&bytes).expect("a written file parses");
    assert_eq!(back.metadata().len(), g.metadata().len());
    for (a, b) in back.metadata().iter().zip(g.metadata()) {
        assert_eq!((a.key, a.value.value_type()), (b.key, b.value.value_type()));
        if let (Value::Array(x), Value::Array(y)) = (a.value, b.value) {
            assert_eq!((x.elem_type(), x.len(), x.raw_bytes()), (y.elem_type(), y.len(), y.raw_bytes()));
        }
    }
    assert_eq!(back.tensors().len(), g.tensors().len());
    for (a, b) in back.tensors().iter().zip(g.tensors()) {
        assert_eq!((a.name(), a.dims(), a.ty(), a.bytes()), (b.name(), b.dims(), b.ty(), b.bytes()));
    }
    assert!(GgufWriter::from_gguf(&back).to_bytes().unwrap() == bytes);
});

fn walk(v: &Value<'_>, depth: usize, sink: &mut String) {
    match v {
        Value::String(b) => assert_eq!(v.as_str().is_some(), std::str::from_utf8(b).is_ok()),
        Value::Array(a) => {
            assert!(depth < MAX_ARRAY_DEPTH);
            let mut n = 0;
            for x in a.iter() {
                if a.elem_type() != ValueType::Array {
                    assert_eq!(x.value_type(), a.elem_type());
                }
                walk(&x, depth + 1, sink);
                n += 1;
            }
            assert_eq!(n, a.len());
            assert_eq!(a.get(a.len()), None);
            if let Some(last) = a.len().checked_sub(1) {
                // compared as Debug text: NaN != NaN
                assert_eq!(format!("{:?}", a.get(last)), format!("{:?}", a.iter().last()));
            }
            typed(a);
            write!(sink, "{v}").unwrap();
        }
        _ => write!(sink, "{v}").unwrap(),
    }
}

fn typed(a: &ArrayView<'_>) {
    fn count<T: emberlm_models::gguf::Scalar>(a: &ArrayView<'_>) -> Option<usize> {
        a.iter_as::<T>().map(Iterator::count)
    }
    let counts = [
        count::<u8>(a),
        count::<i8>(a),
        count::<u16>(a),
        count::<i16>(a),
        count::<u32>(a),
        count::<i32>(a),
        count::<f32>(a),
        count::<bool>(a),
        count::<u64>(a),
        count::<i64>(a),
        count::<f64>(a),
        a.strings().map(Iterator::count),
    ];
    let some: Vec<usize> = counts.into_iter().flatten().collect();
    match a.elem_type() {
        ValueType::Array => assert!(some.is_empty()),
        _ => assert_eq!(some, [a.len()]),
    }
}

fn check_tensor(g: &Gguf<'_>, t: &TensorView<'_>, file_len: usize) {
    assert!((1..=4).contains(&t.dims().len()));
    assert!(!t.dims().contains(&0));
    assert_eq!(t.dims().iter().product::<u64>(), t.n_elements());
    assert_eq!(t.ty().bytes_for(t.n_elements()), Some(t.bytes().len() as u64));
    assert_eq!(t.file_offset(), g.data_offset() + t.offset() as usize);
    assert!(t.file_offset() + t.bytes().len() <= file_len);
    assert_eq!(g.find_tensor(t.name()).as_ref(), Some(t));
    fn blocks<F: Format>(t: &TensorView<'_>) {
        if let Ok(b) = t.blocks::<F>() {
            assert_eq!(b.len() as u64 * F::ELEMS as u64, t.n_elements());
        }
    }
    match t.ty() {
        QuantType::F32 => blocks::<f32::F32>(t),
        QuantType::F16 => blocks::<f16::F16>(t),
        QuantType::BF16 => blocks::<bf16::BF16>(t),
        QuantType::Q4_0 => blocks::<q4_0::Q4_0>(t),
        QuantType::Q4_1 => blocks::<q4_1::Q4_1>(t),
        QuantType::Q5_0 => blocks::<q5_0::Q5_0>(t),
        QuantType::Q5_1 => blocks::<q5_1::Q5_1>(t),
        QuantType::Q8_0 => blocks::<q8_0::Q8_0>(t),
        QuantType::Q8_1 => blocks::<q8_1::Q8_1>(t),
        QuantType::Q2K => blocks::<q2_k::Q2K>(t),
        QuantType::Q3K => blocks::<q3_k::Q3K>(t),
        QuantType::Q4K => blocks::<q4_k::Q4K>(t),
        QuantType::Q5K => blocks::<q5_k::Q5K>(t),
        QuantType::Q6K => blocks::<q6_k::Q6K>(t),
        QuantType::Q8K => blocks::<q8_k::Q8K>(t),
        _ => {}
    }
    if t.ty() != QuantType::Q8_0 {
        assert!(t.blocks::<q8_0::Q8_0>().is_err());
    }
}
