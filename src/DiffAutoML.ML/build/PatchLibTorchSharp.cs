// MSBuild task (compiled by RoslynCodeTaskFactory at build time; not part of the library assembly).
//
// Why: TorchSharp 0.107.0's libLibTorchSharp.so asks for the symbol version GLIBCXX_3.4.32, which Debian 12's
// libstdc++ (3.4.30) lacks, so the loader refuses it. The only symbol behind that version is
// std::ios_base_library_init, which GCC 13 emits as a marker and never calls. Marking that version requirement
// weak (VER_FLG_WEAK in .gnu.version_r) makes the loader accept the library with a warning.
// The task patches only the copies in the build or publish output, never the NuGet cache or system files, and does
// nothing when the build machine's libstdc++ already provides GLIBCXX_3.4.32.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;

public sealed class PatchLibTorchSharp : Microsoft.Build.Utilities.Task
{
    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;
    const string Version = "GLIBCXX_3.4.32";

    /// <summary>Folders whose libLibTorchSharp.so copies are patched (searched recursively).</summary>
    [Required] public string[] Directories { get; set; } = Array.Empty<string>();

    public override bool Execute()
    {
        if (SystemHasVersion())
        {
            Log.LogMessage(MessageImportance.Low, "DiffAutoML.ML: system libstdc++ provides " + Version + "; TorchSharp needs no patch.");
            return true;
        }
        foreach (var dir in Directories)
        {
            if (string.IsNullOrEmpty(dir) || !Directory.Exists(dir)) continue;
            foreach (var file in Directory.GetFiles(dir, "libLibTorchSharp.so", SearchOption.AllDirectories))
            {
                try
                {
                    var result = Patch(file);
                    Log.LogMessage(MessageImportance.Normal, "DiffAutoML.ML: " + file + ": " + result);
                }
                catch (Exception e)
                {
                    Log.LogWarning("DiffAutoML.ML: could not mark " + Version + " weak in " + file + ": " + e.Message);
                }
            }
        }
        return !Log.HasLoggedErrors;
    }

    static bool SystemHasVersion()
    {
        string[] candidates =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/lib/aarch64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6", "/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
        };
        var needle = Encoding.ASCII.GetBytes(Version + "\0");
        foreach (var path in candidates)
        {
            if (!File.Exists(path)) continue;
            if (IndexOf(File.ReadAllBytes(path), needle, 0) >= 0) return true;
            return false; // the first libstdc++ found is the one the loader uses
        }
        return false;
    }

    static int IndexOf(byte[] haystack, byte[] needle, int start)
    {
        for (int i = start; i <= haystack.Length - needle.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }
        return -1;
    }

    /// <summary>Sets VER_FLG_WEAK on the GLIBCXX_3.4.32 entry of .gnu.version_r; writes atomically.</summary>
    static string Patch(string path)
    {
        byte[] b = File.ReadAllBytes(path);
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (b[4] != 2 || b[5] != 1) throw new InvalidDataException("not a little-endian 64-bit ELF file");
        long shoff = (long)BitConverter.ToUInt64(b, 0x28);
        int shentsize = BitConverter.ToUInt16(b, 0x3A);
        int shnum = BitConverter.ToUInt16(b, 0x3C);
        for (int s = 0; s < shnum; s++)
        {
            long sh = shoff + (long)s * shentsize;
            if (BitConverter.ToUInt32(b, (int)sh + 4) != ShtGnuVerneed) continue;
            long offset = (long)BitConverter.ToUInt64(b, (int)sh + 0x18);
            int link = (int)BitConverter.ToUInt32(b, (int)sh + 0x28);
            int count = (int)BitConverter.ToUInt32(b, (int)sh + 0x2C);
            long strtab = (long)BitConverter.ToUInt64(b, (int)(shoff + (long)link * shentsize) + 0x18);
            long need = offset;
            for (int n = 0; n < count; n++)
            {
                int cnt = BitConverter.ToUInt16(b, (int)need + 2);
                long aux = need + BitConverter.ToUInt32(b, (int)need + 8);
                for (int a = 0; a < cnt; a++)
                {
                    long name = strtab + BitConverter.ToUInt32(b, (int)aux + 8);
                    if (ReadCString(b, name) == Version)
                    {
                        ushort flags = BitConverter.ToUInt16(b, (int)aux + 4);
                        if ((flags & VerFlgWeak) != 0) return "already patched";
                        flags |= VerFlgWeak;
                        b[aux + 4] = (byte)(flags & 0xff);
                        b[aux + 5] = (byte)(flags >> 8);
                        string tmp = path + ".diffautoml-tmp";
                        File.WriteAllBytes(tmp, b);
                        File.Replace(tmp, path, null); // atomic rename: a half-written library is never left behind
                        return "marked " + Version + " weak";
                    }
                    aux += BitConverter.ToUInt32(b, (int)aux + 12);
                }
                need += BitConverter.ToUInt32(b, (int)need + 12);
            }
            return "does not require " + Version;
        }
        return "has no version requirements";
    }

    static string ReadCString(byte[] b, long at)
    {
        long end = at;
        while (end < b.Length && b[end] != 0) end++;
        return Encoding.ASCII.GetString(b, (int)at, (int)(end - at));
    }
}
