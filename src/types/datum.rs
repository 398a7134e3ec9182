//! Datum wrappers for ruvec's varlena types: borrowed views for arguments, palloc'd values for
//! results.
//!
//! On-disk layouts are byte-for-byte pgvector's, so a value means the same thing in both:
//!
//! ```text
//! vector    | varlena hdr (4) | int16 dim | int16 unused=0 | float4 x[dim]
//! halfvec   | varlena hdr (4) | int16 dim | int16 unused=0 | float2 x[dim]
//! sparsevec | varlena hdr (4) | int32 dim | int32 nnz | int32 unused=0 | int32 idx[nnz] | float4 val[nnz]
//! ```
//!
//! The types are declared with `ALIGNMENT = int4` (the default), so after `pg_detoast_datum`
//! (which also expands 1-byte short headers into a palloc'd 4-byte-header copy) the payload is
//! 4-byte aligned and can be viewed as `&[f32]`, `&[u32]` or `&[f16]` in place.

use core::marker::PhantomData;
use core::mem::size_of;
use core::ptr::NonNull;

use half::f16;
use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::pg_sys;
use pgrx::{FromDatum, IntoDatum, PgSqlErrorCode};
use ruvec_vector::limits::Kind;

use crate::error::raise_with;

/// Element type of a dense vector type.
pub trait DenseElem: Copy + 'static {
    const KIND: Kind;
    const SQL_NAME: &'static str;
}
impl DenseElem for f32 {
    const KIND: Kind = Kind::Vector;
    const SQL_NAME: &'static str = "vector";
}
impl DenseElem for f16 {
    const KIND: Kind = Kind::Halfvec;
    const SQL_NAME: &'static str = "halfvec";
}

const VARHDRSZ: usize = 4;
const DENSE_HDR: usize = VARHDRSZ + 4;
const SPARSE_HDR: usize = VARHDRSZ + 12;

/// Size of a detoasted, 4-byte-header varlena.
///
/// # Safety
/// `p` must point to a detoasted varlena with a 4-byte header.
unsafe fn varsize(p: *const u8) -> usize {
    // SAFETY: the caller guarantees a 4-byte header; VARSIZE_4B is the header >> 2 on
    // little-endian builds and masks the two flag bits either way via pgrx's helper.
    unsafe { pgrx::varlena::varsize_4b(p as *const pg_sys::varlena) }
}

fn corrupted(what: &str) -> ! {
    raise_with(
        PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
        format!("corrupted {what} value"),
        Some("The value's length does not match its header.".into()),
        None,
    )
}

/// Detoast a by-reference datum (expanding short headers and compressed/external values).
///
/// # Safety
/// `datum` must be a non-null varlena datum.
unsafe fn detoast(datum: pg_sys::Datum) -> *const u8 {
    // SAFETY: caller guarantees a varlena; pg_detoast_datum returns the pointer itself when it
    // is already a plain 4-byte-header value, else a palloc'd copy in CurrentMemoryContext.
    unsafe { pg_sys::pg_detoast_datum(datum.cast_mut_ptr::<pg_sys::varlena>()) as *const u8 }
}

// ------------------------------------------------------------------------------------------------
// Dense (vector, halfvec)
// ------------------------------------------------------------------------------------------------

/// A borrowed `vector`/`halfvec` argument.
pub struct Dense<'a, T> {
    data: *const T,
    dim: usize,
    _p: PhantomData<&'a [T]>,
}

impl<'a, T: DenseElem> Dense<'a, T> {
    /// # Safety
    /// `datum` must be a non-null datum of the SQL type matching `T`.
    pub unsafe fn from_datum_unchecked(datum: pg_sys::Datum) -> Self {
        // SAFETY: forwarded from the caller.
        let p = unsafe { detoast(datum) };
        // SAFETY: p is a detoasted varlena of at least DENSE_HDR bytes (checked below before
        // reading the payload); the header fields are at fixed offsets.
        let (total, dim) = unsafe { (varsize(p), p.add(VARHDRSZ).cast::<i16>().read_unaligned()) };
        if dim < 0 || total < DENSE_HDR + dim as usize * size_of::<T>() {
            corrupted(T::SQL_NAME);
        }
        // SAFETY: payload offset 8 is 4-byte aligned (see module docs).
        let data = unsafe { p.add(DENSE_HDR).cast::<T>() };
        Dense {
            data,
            dim: dim as usize,
            _p: PhantomData,
        }
    }

    #[inline]
    pub fn as_slice(&self) -> &'a [T] {
        // SAFETY: data/dim were validated against the varlena size on construction; the datum
        // lives in a memory context that outlives the function call ('a).
        unsafe { core::slice::from_raw_parts(self.data, self.dim) }
    }

    #[inline]
    pub fn dim(&self) -> usize {
        self.dim
    }
}

/// An owned, palloc'd `vector`/`halfvec` result.
pub struct DenseOut<T> {
    ptr: NonNull<u8>,
    _p: PhantomData<T>,
}

impl<T: DenseElem> DenseOut<T> {
    /// Allocate a value of `dim` zeroed elements in CurrentMemoryContext. The caller has
    /// validated `dim` (<= 16,000, so it fits the int16 header field).
    pub fn zeroed(dim: usize) -> Self {
        debug_assert!(dim <= i16::MAX as usize);
        let size = DENSE_HDR + dim * size_of::<T>();
        // SAFETY: palloc0 either returns a zeroed block of `size` bytes or raises an ERROR.
        let p = unsafe { pg_sys::palloc0(size) as *mut u8 };
        // SAFETY: p has room for the header; set_varsize_4b writes the 4-byte length word.
        unsafe {
            pgrx::varlena::set_varsize_4b(p as *mut pg_sys::varlena, size as i32);
            p.add(VARHDRSZ).cast::<i16>().write(dim as i16);
        }
        DenseOut {
            ptr: NonNull::new(p).expect("palloc0 returned null"),
            _p: PhantomData,
        }
    }

    pub fn from_slice(v: &[T]) -> Self {
        let mut out = Self::zeroed(v.len());
        out.as_mut_slice().copy_from_slice(v);
        out
    }

    pub fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: we allocated DENSE_HDR + dim elements and own the block exclusively.
        unsafe {
            let p = self.ptr.as_ptr();
            let dim = p.add(VARHDRSZ).cast::<i16>().read() as usize;
            core::slice::from_raw_parts_mut(p.add(DENSE_HDR).cast::<T>(), dim)
        }
    }

    fn datum(&self) -> pg_sys::Datum {
        pg_sys::Datum::from(self.ptr.as_ptr())
    }
}

// ------------------------------------------------------------------------------------------------
// Sparse
// ------------------------------------------------------------------------------------------------

/// A borrowed `sparsevec` argument: 0-based strictly increasing indices, non-zero values.
pub struct SparseArg<'a> {
    pub dim: u32,
    pub indices: &'a [u32],
    pub values: &'a [f32],
}

impl<'a> SparseArg<'a> {
    /// # Safety
    /// `datum` must be a non-null `sparsevec` datum.
    pub unsafe fn from_datum_unchecked(datum: pg_sys::Datum) -> Self {
        // SAFETY: forwarded from the caller.
        let p = unsafe { detoast(datum) };
        // SAFETY: header fields at fixed offsets; the total size is checked before the payload
        // is viewed as slices.
        unsafe {
            let total = varsize(p);
            let dim = p.add(VARHDRSZ).cast::<i32>().read();
            let nnz = p.add(VARHDRSZ + 4).cast::<i32>().read();
            if dim < 0 || nnz < 0 || total < SPARSE_HDR + nnz as usize * 8 {
                corrupted("sparsevec");
            }
            let nnz = nnz as usize;
            let idx = p.add(SPARSE_HDR).cast::<u32>();
            let val = p.add(SPARSE_HDR + nnz * 4).cast::<f32>();
            SparseArg {
                dim: dim as u32,
                indices: core::slice::from_raw_parts(idx, nnz),
                values: core::slice::from_raw_parts(val, nnz),
            }
        }
    }

    pub fn to_owned_sparse(&self) -> ruvec_vector::SparseVec {
        ruvec_vector::SparseVec {
            dim: self.dim,
            indices: self.indices.to_vec(),
            values: self.values.to_vec(),
        }
    }
}

/// An owned, palloc'd `sparsevec` result.
pub struct Sparsevec {
    ptr: NonNull<u8>,
}

impl Sparsevec {
    pub fn new(dim: u32, indices: &[u32], values: &[f32]) -> Self {
        debug_assert_eq!(indices.len(), values.len());
        let nnz = indices.len();
        let size = SPARSE_HDR + nnz * 8;
        // SAFETY: palloc0 returns a zeroed block of `size` bytes or raises an ERROR; all writes
        // below stay within it (header 16 bytes, then nnz indices and nnz values).
        unsafe {
            let p = pg_sys::palloc0(size) as *mut u8;
            pgrx::varlena::set_varsize_4b(p as *mut pg_sys::varlena, size as i32);
            p.add(VARHDRSZ).cast::<i32>().write(dim as i32);
            p.add(VARHDRSZ + 4).cast::<i32>().write(nnz as i32);
            core::ptr::copy_nonoverlapping(indices.as_ptr(), p.add(SPARSE_HDR).cast::<u32>(), nnz);
            core::ptr::copy_nonoverlapping(
                values.as_ptr(),
                p.add(SPARSE_HDR + nnz * 4).cast::<f32>(),
                nnz,
            );
            Sparsevec {
                ptr: NonNull::new_unchecked(p),
            }
        }
    }

    pub fn from_sparse(s: &ruvec_vector::SparseVec) -> Self {
        Self::new(s.dim, &s.indices, &s.values)
    }

    fn datum(&self) -> pg_sys::Datum {
        pg_sys::Datum::from(self.ptr.as_ptr())
    }
}

// ------------------------------------------------------------------------------------------------
// bit (PostgreSQL's own varbit)
// ------------------------------------------------------------------------------------------------

/// A borrowed PostgreSQL `bit`/`varbit` argument: `bit_len` bits packed MSB-first in `bytes`.
pub struct BitArg<'a> {
    pub bit_len: usize,
    pub bytes: &'a [u8],
}

impl<'a> BitArg<'a> {
    /// # Safety
    /// `datum` must be a non-null `bit` or `varbit` datum.
    pub unsafe fn from_datum_unchecked(datum: pg_sys::Datum) -> Self {
        // SAFETY: forwarded from the caller; VarBit is `int32 vl_len_; int32 bit_len; bits8 data[]`.
        unsafe {
            let p = detoast(datum);
            let total = varsize(p);
            let bit_len = p.add(VARHDRSZ).cast::<i32>().read();
            let nbytes = (bit_len.max(0) as usize).div_ceil(8);
            if bit_len < 0 || total < VARHDRSZ + 4 + nbytes {
                corrupted("bit");
            }
            BitArg {
                bit_len: bit_len as usize,
                bytes: core::slice::from_raw_parts(p.add(VARHDRSZ + 4), nbytes),
            }
        }
    }
}

/// An owned, palloc'd PostgreSQL `bit` result.
pub struct BitOut {
    ptr: NonNull<u8>,
}

impl BitOut {
    /// `bytes` holds `bit_len` bits packed MSB-first; padding bits in the last byte must be 0
    /// (PostgreSQL's bit functions rely on that).
    pub fn new(bit_len: usize, bytes: &[u8]) -> Self {
        let nbytes = bit_len.div_ceil(8);
        debug_assert_eq!(bytes.len(), nbytes);
        let size = VARHDRSZ + 4 + nbytes;
        // SAFETY: zeroed block of `size` bytes; header then nbytes of data.
        unsafe {
            let p = pg_sys::palloc0(size) as *mut u8;
            pgrx::varlena::set_varsize_4b(p as *mut pg_sys::varlena, size as i32);
            p.add(VARHDRSZ).cast::<i32>().write(bit_len as i32);
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), p.add(VARHDRSZ + 4), nbytes);
            BitOut {
                ptr: NonNull::new_unchecked(p),
            }
        }
    }

    fn datum(&self) -> pg_sys::Datum {
        pg_sys::Datum::from(self.ptr.as_ptr())
    }
}

// ------------------------------------------------------------------------------------------------
// pgrx calling-convention glue. Every function is declared by hand in sql/install/*.sql
// (`#[pg_extern(sql = false)]`), so the SQL mapping below only names the type for pgrx's
// metadata; it never generates DDL.
// ------------------------------------------------------------------------------------------------

macro_rules! borrowed_arg {
    ($ty:ident $(<$t:ty>)?, $sql:literal, $ctor:path) => {
        impl<'a> FromDatum for $ty<'a $(, $t)?> {
            unsafe fn from_polymorphic_datum(
                datum: pg_sys::Datum,
                is_null: bool,
                _typoid: pg_sys::Oid,
            ) -> Option<Self> {
                if is_null || datum.is_null() {
                    None
                } else {
                    // SAFETY: a non-null datum of this SQL type, per the function's declaration.
                    Some(unsafe { $ctor(datum) })
                }
            }
        }

        // SAFETY: the value is unboxed from a datum of the matching SQL type via FromDatum.
        unsafe impl<'fcx> ArgAbi<'fcx> for $ty<'fcx $(, $t)?> {
            unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
                let index = arg.index();
                // SAFETY: the SQL declaration gives this argument our type.
                unsafe { arg.unbox_arg_using_from_datum() }
                    .unwrap_or_else(|| panic!("argument {index} must not be null"))
            }
        }

        // SAFETY: maps to the SQL type declared by this extension's install script.
        unsafe impl<'a> pgrx::pgrx_sql_entity_graph::metadata::SqlTranslatable
            for $ty<'a $(, $t)?>
        {
            const TYPE_IDENT: &'static str = concat!(module_path!(), "::", $sql);
            const TYPE_ORIGIN: pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin =
                pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin::External;
            const ARGUMENT_SQL: Result<
                pgrx::pgrx_sql_entity_graph::metadata::SqlMappingRef,
                pgrx::pgrx_sql_entity_graph::metadata::ArgumentError,
            > = Ok(pgrx::pgrx_sql_entity_graph::metadata::SqlMappingRef::literal($sql));
            const RETURN_SQL: Result<
                pgrx::pgrx_sql_entity_graph::metadata::ReturnsRef,
                pgrx::pgrx_sql_entity_graph::metadata::ReturnsError,
            > = Ok(pgrx::pgrx_sql_entity_graph::metadata::ReturnsRef::One(
                pgrx::pgrx_sql_entity_graph::metadata::SqlMappingRef::literal($sql),
            ));
        }
    };
}

borrowed_arg!(Dense<f32>, "vector", Dense::<f32>::from_datum_unchecked);
borrowed_arg!(Dense<f16>, "halfvec", Dense::<f16>::from_datum_unchecked);
borrowed_arg!(SparseArg, "sparsevec", SparseArg::from_datum_unchecked);
borrowed_arg!(BitArg, "bit", BitArg::from_datum_unchecked);

macro_rules! owned_ret {
    ($ty:ty, $sql:literal) => {
        impl IntoDatum for $ty {
            fn into_datum(self) -> Option<pg_sys::Datum> {
                Some(self.datum())
            }
            fn type_oid() -> pg_sys::Oid {
                crate::types::type_oid($sql)
            }
        }

        // SAFETY: returns a palloc'd varlena of the declared SQL return type.
        unsafe impl BoxRet for $ty {
            unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
                // SAFETY: the datum is a valid value allocated in the call's memory context.
                unsafe { fcinfo.return_raw_datum(self.datum()) }
            }
        }

        // SAFETY: maps to the SQL type declared by this extension's install script.
        unsafe impl pgrx::pgrx_sql_entity_graph::metadata::SqlTranslatable for $ty {
            const TYPE_IDENT: &'static str = concat!(module_path!(), "::", $sql, "_out");
            const TYPE_ORIGIN: pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin =
                pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin::External;
            const ARGUMENT_SQL: Result<
                pgrx::pgrx_sql_entity_graph::metadata::SqlMappingRef,
                pgrx::pgrx_sql_entity_graph::metadata::ArgumentError,
            > = Ok(pgrx::pgrx_sql_entity_graph::metadata::SqlMappingRef::literal($sql));
            const RETURN_SQL: Result<
                pgrx::pgrx_sql_entity_graph::metadata::ReturnsRef,
                pgrx::pgrx_sql_entity_graph::metadata::ReturnsError,
            > = Ok(pgrx::pgrx_sql_entity_graph::metadata::ReturnsRef::One(
                pgrx::pgrx_sql_entity_graph::metadata::SqlMappingRef::literal($sql),
            ));
        }
    };
}

owned_ret!(DenseOut<f32>, "vector");
owned_ret!(DenseOut<f16>, "halfvec");
owned_ret!(Sparsevec, "sparsevec");
owned_ret!(BitOut, "bit");

// ------------------------------------------------------------------------------------------------
// Arrays (casts from int/real/double/numeric arrays, aggregate state float8[], typmod cstring[])
// ------------------------------------------------------------------------------------------------

/// A borrowed, detoasted PostgreSQL array argument of any element type.
pub struct ArrayArg<'a> {
    ptr: *mut pg_sys::ArrayType,
    _p: PhantomData<&'a pg_sys::ArrayType>,
}

impl<'a> ArrayArg<'a> {
    /// # Safety
    /// `datum` must be a non-null array datum.
    pub unsafe fn from_datum_unchecked(datum: pg_sys::Datum) -> Self {
        // SAFETY: arrays are varlenas; detoasting yields a flat ArrayType.
        let ptr = unsafe { detoast(datum) } as *mut pg_sys::ArrayType;
        ArrayArg {
            ptr,
            _p: PhantomData,
        }
    }

    pub fn as_ptr(&self) -> *mut pg_sys::ArrayType {
        self.ptr
    }

    pub fn ndim(&self) -> i32 {
        // SAFETY: ptr is a detoasted ArrayType.
        unsafe { (*self.ptr).ndim }
    }

    pub fn elem_type(&self) -> pg_sys::Oid {
        // SAFETY: ptr is a detoasted ArrayType.
        unsafe { (*self.ptr).elemtype }
    }

    pub fn has_nulls(&self) -> bool {
        // SAFETY: ptr is a detoasted ArrayType; array_contains_nulls only reads it.
        unsafe { (*self.ptr).dataoffset != 0 && pg_sys::array_contains_nulls(self.ptr) }
    }

    /// The elements as Datums (NULLs must have been rejected by the caller).
    pub fn datums(&self) -> Vec<pg_sys::Datum> {
        let elem = self.elem_type();
        let (mut len, mut byval, mut align) = (0i16, false, 0 as core::ffi::c_char);
        let mut elems: *mut pg_sys::Datum = core::ptr::null_mut();
        let mut n: core::ffi::c_int = 0;
        // SAFETY: standard catalog lookup + deconstruct_array on a valid flat array; the result
        // arrays are palloc'd and copied out before returning.
        unsafe {
            pg_sys::get_typlenbyvalalign(elem, &mut len, &mut byval, &mut align);
            pg_sys::deconstruct_array(
                self.ptr,
                elem,
                len as core::ffi::c_int,
                byval,
                align,
                &mut elems,
                core::ptr::null_mut(),
                &mut n,
            );
            if n == 0 || elems.is_null() {
                return Vec::new();
            }
            core::slice::from_raw_parts(elems, n as usize).to_vec()
        }
    }
}

impl<'a> FromDatum for ArrayArg<'a> {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _typoid: pg_sys::Oid,
    ) -> Option<Self> {
        if is_null || datum.is_null() {
            None
        } else {
            // SAFETY: a non-null array datum, per the function's declaration.
            Some(unsafe { ArrayArg::from_datum_unchecked(datum) })
        }
    }
}

// SAFETY: unboxed from an array datum via FromDatum.
unsafe impl<'fcx> ArgAbi<'fcx> for ArrayArg<'fcx> {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: the SQL declaration gives this argument an array type.
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| panic!("argument {index} must not be null"))
    }
}

pgrx::impl_sql_translatable!(ArrayArg<'_>, arg_only = "anyarray");
