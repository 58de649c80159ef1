package lab

// constrainedLanguageError is what Windows PowerShell 5.1 writes to stderr (as a CLIXML
// error record) when patchnight's bootstrap runs on a host in ConstrainedLanguage mode
// (AppLocker or WDAC script enforcement): the bootstrap's calls of .NET methods
// ([Console]::In.ReadToEnd(), also the one in its catch block) are refused, the error is
// not caught a second time, and the process exits 1 with nothing on stdout. The message and
// FullyQualifiedErrorId are PowerShell's own (as quoted in PowerShell/PowerShell#17906
// and PowerShell/SecretStore#64); the position lines are those of the
// bootstrap's catch block (their numbers depend on the bootstrap text).
const constrainedLanguageError = `Cannot invoke method. Method invocation is supported only on core types in this language mode.
At line:15 char:5
+     [Console]::Out.WriteLine(($e | ConvertTo-Json -Compress -Depth 5))
+     ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
    + CategoryInfo          : InvalidOperation: (:) [], RuntimeException
    + FullyQualifiedErrorId : MethodInvocationNotSupportedInConstrainedLanguage`
