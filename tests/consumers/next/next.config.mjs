// No vitrine-specific configuration.
export default {};
