// Errors as the C API reports them: the code (the same numbers as CAIRN_* in cairn.h) and the
// message.
using System;

namespace Cairn
{
    public enum ErrorCode
    {
        Ok = 0,
        AlreadyStreamed = 1,
        ConcurrentModification = 2,
        DeveloperUserAlreadyRegistered = 3,
        DuplicateRequest = 4,
        ExternalService = 5,
        InternalError = 6,
        InvalidConfiguration = 7,
        InvalidIdentityPoolConfiguration = 8,
        InvalidLambdaFunctionOutput = 9,
        InvalidParameter = 10,
        LambdaSocketTimeout = 11,
        LambdaThrottled = 12,
        LimitExceeded = 13,
        NotAuthorized = 14,
        ResourceConflict = 15,
        ResourceNotFound = 16,
        TooManyRequests = 17,
        AccessDenied = 18,
        ExpiredToken = 19,
        IncompleteSignature = 20,
        InvalidSignature = 21,
        MissingAuthenticationToken = 22,
        RequestExpired = 23,
        RequestTimeTooSkewed = 24,
        SignatureDoesNotMatch = 25,
        Throttling = 26,
        UnrecognizedClient = 27,
        UnknownServiceError = 28,
        Network = 29,
        Timeout = 30,
        Tls = 31,
        Parse = 32,
        NoCredentials = 33,
        Signing = 34,
        Cancelled = 35,
        StubExhausted = 36,
        InvalidArgument = 37,
        Corruption = 38,
        Storage = 39,
        ConflictUnresolved = 40,
    }

    public class CairnException : Exception
    {
        public ErrorCode Code { get; }

        public CairnException(ErrorCode code, string message, Exception inner = null)
            : base(message, inner)
        {
            Code = code;
        }

        // Throws for anything but Ok, with cairn's message (which it frees).
        internal static void Check(int code, IntPtr error)
        {
            string message = Utf8.Take(error);
            if (code != 0) throw new CairnException((ErrorCode)code, message ?? ((ErrorCode)code).ToString());
        }
    }
}
