; RoomStager installer: per user, 64-bit, Unicode. Nothing here needs administrator rights.
;
; Built by `python installer/build.py`, which assembles the payload and passes:
;   APP_VERSION     "0.1.0"            shown to the user and in Apps & features
;   VI_VERSION      "0.1.0.0"          the four-number form Windows' file properties want
;   PAYLOAD_DIR     folder with python\ (embedded CPython + site-packages, no torch), app\, main.py, ...
;   UNINSTALL_LIST  .nsh listing the payload's top-level entries, so the uninstaller removes exactly those
;   OUT_FILE        the setup .exe to write
;   APP_ICON        (optional) .ico for the installer; the payload then holds roomstager.ico
;   STUB            (optional) the payload has a placeholder Python: the result only proves the script compiles
;
; Command line of the resulting setup.exe (besides NSIS' own /S and /D=dir):
;   /WHEELS=folder  install torch from a folder of wheel files instead of downloading (no internet needed);
;                   a "torch-wheels" folder beside setup.exe is used automatically
;   /TORCH=id       force a torch build: cpu, cu126, cu130 (default: chosen from the graphics card)
;   /SKIPTORCH      do not set torch up now (run "RoomStager - Set up GPU" later)
;   uninstaller: /REMOVEMODELS removes downloaded models without asking (silent uninstalls keep them)

Unicode true
Target amd64-unicode
ManifestDPIAware true
RequestExecutionLevel user
SetCompressor /SOLID lzma
SetCompressorDictSize 64

!ifndef APP_VERSION | VI_VERSION | PAYLOAD_DIR | UNINSTALL_LIST | OUT_FILE
  !error "Build this with: python installer/build.py"
!endif

!define APP_NAME "RoomStager"
!define APP_KEY "Software\${APP_NAME}"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP_NAME}"
!define UNINSTALLER "Uninstall ${APP_NAME}.exe"
!define PYTHONW "$INSTDIR\python\pythonw.exe"
!define PYTHON "$INSTDIR\python\python.exe"
!define STATE "$INSTDIR\firstrun\state"

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "FileFunc.nsh"
!include "x64.nsh"
!include "WinVer.nsh"

!ifdef STUB
  Name "${APP_NAME} ${APP_VERSION} (stub build)"
!else
  Name "${APP_NAME} ${APP_VERSION}"
!endif
OutFile "${OUT_FILE}"
InstallDir "$LOCALAPPDATA\Programs\${APP_NAME}"
InstallDirRegKey HKCU "${APP_KEY}" "InstallDir"
BrandingText "${APP_NAME} ${APP_VERSION}"
ShowInstDetails show
ShowUninstDetails show

VIProductVersion "${VI_VERSION}"
VIAddVersionKey "ProductName" "${APP_NAME}"
VIAddVersionKey "FileDescription" "${APP_NAME} setup"
VIAddVersionKey "ProductVersion" "${APP_VERSION}"
VIAddVersionKey "FileVersion" "${APP_VERSION}"
VIAddVersionKey "LegalCopyright" "${APP_NAME}"

!ifdef APP_ICON
  !define MUI_ICON "${APP_ICON}"
  !define MUI_UNICON "${APP_ICON}"
  !define SHORTCUT_ICON "$INSTDIR\roomstager.ico"
!else
  !define SHORTCUT_ICON "${PYTHONW}"
!endif

!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN
!define MUI_FINISHPAGE_RUN_TEXT "Start ${APP_NAME}"
!define MUI_FINISHPAGE_RUN_FUNCTION LaunchApp

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Var WheelsDir
Var ForcedBuild
Var SkipTorch
Var KeepModels

Function .onInit
!ifdef STUB
  MessageBox MB_ICONSTOP "This is a stub build: it checks the installer script and holds no Python. Build with --python-embed for a real installer." /SD IDOK
  Abort
!endif
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "${APP_NAME} needs 64-bit Windows." /SD IDOK
    Abort
  ${EndIf}
  ${IfNot} ${AtLeastWin10}
    MessageBox MB_ICONSTOP "${APP_NAME} needs Windows 10 or newer." /SD IDOK
    Abort
  ${EndIf}

  ${GetParameters} $R0
  StrCpy $WheelsDir ""
  ClearErrors
  ${GetOptions} $R0 "/WHEELS=" $R1
  ${IfNot} ${Errors}
    StrCpy $WheelsDir $R1
  ${ElseIf} ${FileExists} "$EXEDIR\torch-wheels\*.whl"
    StrCpy $WheelsDir "$EXEDIR\torch-wheels"
  ${EndIf}
  StrCpy $ForcedBuild ""
  ClearErrors
  ${GetOptions} $R0 "/TORCH=" $R1
  ${IfNot} ${Errors}
    StrCpy $ForcedBuild $R1
  ${EndIf}
  StrCpy $SkipTorch 0
  ClearErrors
  ${GetOptions} $R0 "/SKIPTORCH" $R1
  ${IfNot} ${Errors}
    StrCpy $SkipTorch 1
  ${EndIf}
FunctionEnd

Section "${APP_NAME}" SecMain
  SectionIn RO
  SetOutPath "$INSTDIR"
  ; Code from an older version must not linger beside the new one. python\ keeps torch (GBs).
  RMDir /r "$INSTDIR\app"
  RMDir /r "$INSTDIR\resources"
  RMDir /r "$INSTDIR\firstrun"
  File /r "${PAYLOAD_DIR}/*"

  WriteUninstaller "$INSTDIR\${UNINSTALLER}"
  WriteRegStr HKCU "${APP_KEY}" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayVersion" "${APP_VERSION}"
  WriteRegStr HKCU "${UNINST_KEY}" "Publisher" "${APP_NAME}"
  WriteRegStr HKCU "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayIcon" "${SHORTCUT_ICON}"
  WriteRegStr HKCU "${UNINST_KEY}" "UninstallString" '"$INSTDIR\${UNINSTALLER}"'
  WriteRegStr HKCU "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\${UNINSTALLER}" /S'
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoRepair" 1

  CreateDirectory "$SMPROGRAMS\${APP_NAME}"
  CreateShortcut "$SMPROGRAMS\${APP_NAME}\${APP_NAME}.lnk" "${PYTHONW}" '"$INSTDIR\main.py"' "${SHORTCUT_ICON}" 0
  CreateShortcut "$SMPROGRAMS\${APP_NAME}\${APP_NAME} - Set up GPU.lnk" "${PYTHON}" "-m firstrun --pause" "${SHORTCUT_ICON}" 0
  CreateShortcut "$SMPROGRAMS\${APP_NAME}\Uninstall ${APP_NAME}.lnk" "$INSTDIR\${UNINSTALLER}"
  CreateShortcut "$DESKTOP\${APP_NAME}.lnk" "${PYTHONW}" '"$INSTDIR\main.py"' "${SHORTCUT_ICON}" 0

  Call SetUpTorch

  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKCU "${UNINST_KEY}" "EstimatedSize" $0
SectionEnd

; Runs firstrun (installer/firstrun): GPU check, torch download or local wheels, verification.
; Its output streams into the details list; its plain-words verdict comes back in a message box.
Function SetUpTorch
  ${If} $SkipTorch == 1
    DetailPrint "torch set-up skipped (/SKIPTORCH): run '${APP_NAME} - Set up GPU' from the Start menu."
    Return
  ${EndIf}
  StrCpy $R0 ""
  ${If} $WheelsDir != ""
    StrCpy $R0 '--wheels "$WheelsDir"'
  ${EndIf}
  ${If} $ForcedBuild != ""
    StrCpy $R0 "$R0 --build $ForcedBuild"
  ${EndIf}
  DetailPrint "Setting up torch for this PC: graphics card check, download (2-3 GB for NVIDIA cards), test..."
  nsExec::ExecToLog '"${PYTHON}" -m firstrun $R0'
  Pop $0
  DetailPrint "torch set-up finished with code $0"
  ${If} $0 == 0
    Return
  ${EndIf}
  Call ReadFirstRunMessage
  ${If} $0 == 3 ; works, on the processor: the message says why the GPU is not used
    MessageBox MB_ICONINFORMATION "$R9" /SD IDOK
  ${Else}
    MessageBox MB_ICONEXCLAMATION "torch could not be set up, so ${APP_NAME} cannot start yet.$\r$\n$\r$\n$R9$\r$\n$\r$\nRun '${APP_NAME} - Set up GPU' from the Start menu to try again." /SD IDOK
  ${EndIf}
FunctionEnd

; firstrun writes its verdict as UTF-16LE so names with any characters survive. Result in $R9.
Function ReadFirstRunMessage
  StrCpy $R9 ""
  ClearErrors
  FileOpen $R8 "${STATE}\message-utf16le.txt" r
  ${If} ${Errors}
    StrCpy $R9 "The set-up step did not report (code $0)."
    Return
  ${EndIf}
  ${Do}
    FileReadUTF16LE $R8 $R7
    ${If} ${Errors}
      ${ExitDo}
    ${EndIf}
    StrCpy $R9 "$R9$R7"
  ${Loop}
  FileClose $R8
FunctionEnd

Function LaunchApp
  Exec '"${PYTHONW}" "$INSTDIR\main.py"'
FunctionEnd

Section "Uninstall"
  StrCpy $KeepModels 1
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/REMOVEMODELS" $R1
  ${IfNot} ${Errors}
    StrCpy $KeepModels 0
  ${ElseIf} ${FileExists} "$INSTDIR\models\*.*"
    MessageBox MB_YESNO|MB_ICONQUESTION "Keep the downloaded models?$\r$\n$\r$\nThey are in $INSTDIR\models and can take many gigabytes. Keep them if you may install ${APP_NAME} again; choose No to delete them." /SD IDYES IDYES keep_models
    StrCpy $KeepModels 0
    keep_models:
  ${EndIf}

  Delete "$DESKTOP\${APP_NAME}.lnk"
  Delete "$SMPROGRAMS\${APP_NAME}\*.lnk"
  RMDir "$SMPROGRAMS\${APP_NAME}"

  ; Exactly what the payload put at the top of $INSTDIR (models\ is handled below).
  !include "${UNINSTALL_LIST}"
  ${If} $KeepModels == 0
    RMDir /r "$INSTDIR\models"
    DeleteRegKey HKCU "${APP_KEY}"
  ${Else}
    DetailPrint "Kept $INSTDIR\models"
  ${EndIf}
  Delete "$INSTDIR\${UNINSTALLER}"
  RMDir "$INSTDIR"
  DeleteRegKey HKCU "${UNINST_KEY}"
SectionEnd
