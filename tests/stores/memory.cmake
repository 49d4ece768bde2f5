# The memory driver: conformance with the defaults, and with an instance name of our own.
if(SS_HAVE_MEMORY)
  ss_add_conformance(memory DRIVER memory TIMEOUT 120)
  ss_add_conformance(memory.named DRIVER state.memory INSTANCE conf-memory
                     CASES identity error-messages feature-* TIMEOUT 60)
endif()
