# Copies the JS interop project into the build tree and installs its pinned dependencies, only
# when the lockfile changed since the last install.
file(MAKE_DIRECTORY ${DEST})
foreach(f package.json package-lock.json interop.mjs)
  configure_file(${SOURCE}/${f} ${DEST}/${f} COPYONLY)
endforeach()
file(SHA256 ${DEST}/package-lock.json lock_hash)
set(stamp ${DEST}/node_modules/.cairn-lock-hash)
if(EXISTS ${stamp})
  file(READ ${stamp} installed_hash)
endif()
if(NOT "${installed_hash}" STREQUAL "${lock_hash}")
  execute_process(COMMAND ${NPM} ci --no-audit --no-fund --loglevel=error
    WORKING_DIRECTORY ${DEST} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "npm ci failed (${rc})")
  endif()
  file(WRITE ${stamp} ${lock_hash})
endif()
