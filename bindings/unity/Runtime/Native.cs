// The C API of libcairn (include/cairn/cairn.h) as P/Invoke declarations. Strings cross as UTF-8
// in both directions (Utf8 below); every char* cairn returns is freed with cairn_string_free.
using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Cairn
{
    internal static class Native
    {
#if UNITY_IOS && !UNITY_EDITOR
        // iOS links libcairn statically into the player.
        private const string Lib = "__Internal";
#else
        private const string Lib = "cairn";
#endif

        [StructLayout(LayoutKind.Sequential)]
        internal struct Options
        {
            public IntPtr Endpoint;
            public IntPtr Region;
            public IntPtr IdentityPoolId;
            public IntPtr DatabasePath;
            public IntPtr LoginProviders;
            public IntPtr LoginTokens;
            public UIntPtr LoginCount;
            public IntPtr AccessKeyId;
            public IntPtr SecretAccessKey;
            public IntPtr SessionToken;
            public IntPtr IdentityId;
            public int Resolver;
            public int Delivery;
            public int DurableWrites;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct Status
        {
            public int State;
            public long PendingChanges;
            public long LastSyncCount;
            public int HasLastResult;
            public int LastResult;
            public long PulledRecords;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct Conflict
        {
            public IntPtr Dataset;
            public IntPtr Key;
            public IntPtr LocalValue;
            public IntPtr RemoteValue;
            public IntPtr BaseValue;
            public int HasBase;
            public long LocalModifiedMs;
            public long RemoteModifiedMs;
            public long ClockSkewMs;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct Record
        {
            public IntPtr Key;
            public IntPtr Value;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct Records
        {
            public UIntPtr Count;
            public IntPtr Items;
        }

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate int ConflictFn(IntPtr userData, ref Conflict conflict, out IntPtr value);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate int DatasetDeletedFn(IntPtr userData, IntPtr dataset);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate int DatasetsMergedFn(IntPtr userData, IntPtr dataset, IntPtr merged,
                                               UIntPtr mergedCount);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void SyncDoneFn(IntPtr userData, int code, IntPtr message,
                                          UIntPtr updatedRecords);

        [StructLayout(LayoutKind.Sequential)]
        internal struct SyncCallbacks
        {
            public IntPtr OnConflict;
            public IntPtr OnDatasetDeleted;
            public IntPtr OnDatasetsMerged;
            public IntPtr Done;
        }

        [DllImport(Lib)] internal static extern IntPtr cairn_code_name(int code);
        [DllImport(Lib)] internal static extern IntPtr cairn_version();
        [DllImport(Lib)] internal static extern void cairn_string_free(IntPtr s);
        [DllImport(Lib)] internal static extern void cairn_options_init(ref Options options);
        [DllImport(Lib)] internal static extern int cairn_manager_open(ref Options options, out IntPtr manager, out IntPtr error);
        [DllImport(Lib)] internal static extern void cairn_manager_close(IntPtr manager);
        [DllImport(Lib)] internal static extern int cairn_identity_id(ManagerHandle manager, out IntPtr identityId, out IntPtr error);
        [DllImport(Lib)] internal static extern void cairn_set_network_reachable(ManagerHandle manager, int reachable);
        [DllImport(Lib)] internal static extern UIntPtr cairn_run_pending_callbacks(ManagerHandle manager);
        [DllImport(Lib)] internal static extern int cairn_dataset_open(ManagerHandle manager, byte[] name, out IntPtr dataset, out IntPtr error);
        [DllImport(Lib)] internal static extern void cairn_dataset_close(IntPtr dataset);
        [DllImport(Lib)] internal static extern int cairn_put(DatasetHandle dataset, byte[] key, byte[] value, out IntPtr error);
        [DllImport(Lib)] internal static extern int cairn_remove(DatasetHandle dataset, byte[] key, out IntPtr error);
        [DllImport(Lib)] internal static extern int cairn_get(DatasetHandle dataset, byte[] key, out IntPtr value, out IntPtr error);
        [DllImport(Lib)] internal static extern int cairn_get_all(DatasetHandle dataset, out IntPtr records, out IntPtr error);
        [DllImport(Lib)] internal static extern void cairn_records_free(IntPtr records);
        [DllImport(Lib)] internal static extern int cairn_put_all(DatasetHandle dataset, IntPtr[] keys, IntPtr[] values, UIntPtr count, out IntPtr error);
        [DllImport(Lib)] internal static extern int cairn_dataset_size_bytes(DatasetHandle dataset, out long size, out IntPtr error);
        [DllImport(Lib)] internal static extern int cairn_is_changed(DatasetHandle dataset, byte[] key, out int changed, out IntPtr error);
        [DllImport(Lib)] internal static extern int cairn_dataset_delete(DatasetHandle dataset, out IntPtr error);
        [DllImport(Lib)] internal static extern int cairn_dataset_status(DatasetHandle dataset, out Status status, out IntPtr error);
        [DllImport(Lib)] internal static extern int cairn_synchronize_with(DatasetHandle dataset, ref SyncCallbacks callbacks, IntPtr userData, out IntPtr error);
        [DllImport(Lib)] internal static extern int cairn_register_device(ManagerHandle manager, byte[] platform, byte[] token, out IntPtr deviceId, out IntPtr error);
        [DllImport(Lib)] internal static extern int cairn_subscribe(ManagerHandle manager, byte[] dataset, out IntPtr error);
        [DllImport(Lib)] internal static extern int cairn_unsubscribe(ManagerHandle manager, byte[] dataset, out IntPtr error);
        [DllImport(Lib)] internal static extern int cairn_handle_push_json(ManagerHandle manager, byte[] json, out int started, out IntPtr error);
    }

    // UTF-8 both ways, as .NET Standard 2.0 has no Marshal.PtrToStringUTF8.
    internal static class Utf8
    {
        // A NUL-terminated UTF-8 copy of s, for a byte[] parameter; null stays null.
        internal static byte[] Bytes(string s)
        {
            if (s == null) return null;
            int n = Encoding.UTF8.GetByteCount(s);
            var bytes = new byte[n + 1];
            Encoding.UTF8.GetBytes(s, 0, s.Length, bytes, 0);
            return bytes;
        }

        // The same in unmanaged memory, for pointers inside structs; free with Marshal.FreeHGlobal.
        internal static IntPtr Alloc(string s)
        {
            if (s == null) return IntPtr.Zero;
            byte[] bytes = Bytes(s);
            IntPtr p = Marshal.AllocHGlobal(bytes.Length);
            Marshal.Copy(bytes, 0, p, bytes.Length);
            return p;
        }

        // Reads a NUL-terminated UTF-8 string that cairn owns (or lent for a callback).
        internal static string Read(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            int n = 0;
            while (Marshal.ReadByte(p, n) != 0) ++n;
            var bytes = new byte[n];
            Marshal.Copy(p, bytes, 0, n);
            return Encoding.UTF8.GetString(bytes);
        }

        // Reads a string cairn returned to the caller, and frees it.
        internal static string Take(IntPtr p)
        {
            string s = Read(p);
            if (p != IntPtr.Zero) Native.cairn_string_free(p);
            return s;
        }
    }
}
