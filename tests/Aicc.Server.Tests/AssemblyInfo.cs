// The local executor and these tests use posix_spawn and /proc.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
